"""Download a shared file's first bytes with the bot token, from Slack's hosts only.

`url_private` and `url_private_download` need `Authorization: Bearer <bot token>` (scope
`files:read`). The token goes to Slack's own hosts (and the configured API host, which is the
loopback fake in tests) and nowhere else: redirects are followed by hand, each hop checked.
Without access Slack answers 403 or 404, or (an old or wrong token) a 200 with its HTML sign-in
page instead of the file: all three mean the bot cannot open the file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urljoin, urlsplit

import httpx

from bot.model import FileRef

log = logging.getLogger(__name__)

SLACK_HOST_SUFFIXES = (".slack.com", ".slack-edge.com")
MAX_REDIRECTS = 3
FETCH_SECONDS = 10.0


class Outcome(StrEnum):
    TEXT = "text"  # the bytes (for an image too)
    CANNOT_OPEN = "cannot_open"  # 401/403/404/410 or a sign-in page: not the bot's to read
    FAILED = "failed"  # a timeout, a 5xx, a host we do not send the token to: try again later


@dataclass(frozen=True, slots=True)
class Fetched:
    outcome: Outcome
    data: bytes = b""
    truncated: bool = False  # the file goes on past `max_bytes`


class FileFetcher:
    """Reads at most `max_bytes` of a file over one injected `httpx.AsyncClient`.

    `token` is asked at each download: with OAuth installs it is the bound workspace's token.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        token: Callable[[], str | None],
        max_bytes: int,
        extra_hosts: Collection[str] = (),
        seconds: float = FETCH_SECONDS,
    ) -> None:
        self._http = http
        self._token = token
        self.max_bytes = max_bytes
        self._extra_hosts = frozenset(h.lower() for h in extra_hosts)
        self._seconds = seconds

    def allowed(self, url: str) -> bool:
        """Whether the token may go to `url`: https on a Slack host, or an extra host as given."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.netloc.lower() in self._extra_hosts:
            return parts.scheme in ("http", "https")
        return parts.scheme == "https" and (host == "slack.com" or host.endswith(SLACK_HOST_SUFFIXES))

    async def fetch(self, ref: FileRef) -> Fetched:
        try:
            async with asyncio.timeout(self._seconds):
                fetched = await self._follow(ref)
        except (httpx.HTTPError, TimeoutError) as exc:
            fetched = Fetched(Outcome.FAILED)
            log.info("file %s could not be read: %s", ref.id, type(exc).__name__)
        else:
            if fetched.outcome is not Outcome.TEXT:
                log.info("file %s not read: %s", ref.id, fetched.outcome.value)
        return fetched

    async def _follow(self, ref: FileRef) -> Fetched:
        url, token = ref.url, self._token()
        if not token:
            return Fetched(Outcome.FAILED)
        for _ in range(MAX_REDIRECTS + 1):
            if not self.allowed(url):
                return Fetched(Outcome.FAILED)
            headers = {"Authorization": f"Bearer {token}"}
            async with self._http.stream("GET", url, headers=headers, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code in (401, 403, 404, 410):
                    return Fetched(Outcome.CANNOT_OPEN)
                if response.status_code != 200:
                    return Fetched(Outcome.FAILED)
                if _sign_in_page(response, ref):
                    return Fetched(Outcome.CANNOT_OPEN)
                return await self._read(response)
        return Fetched(Outcome.FAILED)

    async def _read(self, response: httpx.Response) -> Fetched:
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data.extend(chunk)
            if len(data) > self.max_bytes:
                return Fetched(Outcome.TEXT, bytes(data[: self.max_bytes]), truncated=True)
        return Fetched(Outcome.TEXT, bytes(data))


def _sign_in_page(response: httpx.Response, ref: FileRef) -> bool:
    """Slack's HTML sign-in page served in place of a file that is not HTML itself."""
    served = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    return served == "text/html" and ref.filetype != "html" and not ref.mimetype.startswith("text/html")
