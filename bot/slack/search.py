"""Slack's Real-time Search API (`assistant.search.context`): Slack searches as the asker, with
Slack's own permissions, and answers with the matching messages and their permalinks.

It needs a bot token with `search:read.*` scopes (which channel types follow from which scopes)
and the `action_token` Slack puts in a message or mention event in the AI app's contexts; without
either there is no call. Slack may not offer it to every app or workspace: a refusal that will not
change (missing scope, feature not enabled, token type not allowed) turns it off for a while, any
other failure or a slow answer just yields nothing this time. Every result still goes through the
bot's own access decision before it reaches a prompt: Slack's results are what the asker may see,
not what everyone reading the answer may.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

CHANNEL_TYPES: Final = {
    "search:read.public": "public_channel",
    "search:read.private": "private_channel",
    "search:read.mpim": "mpim",
    "search:read.im": "im",
}
LIMIT: Final = 20  # Slack's maximum per call
TIMEOUT_SECONDS: Final = 1.5  # retrieval waits this long at most before the prompt goes without it
OFF_SECONDS: Final = 600.0  # after a lasting refusal, how long before asking again
LASTING: Final = frozenset(
    {
        "missing_scope",
        "not_allowed_token_type",
        "feature_not_enabled",
        "not_allowed",
        "access_denied",
        "team_access_not_granted",
        "no_permission",
    }
)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One matching message, placed in its thread (a top-level message is its own thread)."""

    channel: str
    thread_ts: str
    ts: str
    author: str
    text: str


def thread_of(message_ts: str, permalink: str) -> str:
    """The thread a result belongs to: a reply's permalink names it (`?thread_ts=`)."""
    query = parse_qs(urlsplit(permalink).query)
    return (query.get("thread_ts") or [message_ts])[0] or message_ts


def parse_results(body: dict[str, Any]) -> list[SearchResult]:
    """The message results of one answer, best first; malformed entries are skipped."""
    found: list[SearchResult] = []
    for item in (body.get("results") or {}).get("messages") or ():
        if not isinstance(item, dict):
            continue
        channel, ts = item.get("channel_id"), item.get("message_ts")
        if not isinstance(channel, str) or not isinstance(ts, str) or not channel or not ts:
            continue
        author = str(item.get("author_name") or item.get("author_user_id") or "someone")
        found.append(
            SearchResult(
                channel=channel,
                thread_ts=thread_of(ts, str(item.get("permalink") or "")),
                ts=ts,
                author=author,
                text=str(item.get("content") or ""),
            )
        )
    return found


class SlackSearch:
    def __init__(
        self,
        slack: AsyncWebClient,
        *,
        scopes: Callable[[], Collection[str]],
        timeout_seconds: float = TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self._scopes = scopes  # the served workspace's bot token's (workspaces differ)
        self._timeout = timeout_seconds
        self._clock = clock
        self._off_until = float("-inf")

    @property
    def channel_types(self) -> list[str]:
        scopes = self._scopes()
        return [kind for scope, kind in CHANNEL_TYPES.items() if scope in scopes]

    def usable(self, action_token: str | None) -> bool:
        return bool(action_token and self.channel_types and self._clock() >= self._off_until)

    async def search(self, query: str, action_token: str | None) -> list[SearchResult]:
        """Slack's best matches for `query` as the asker sees them ([] whenever it can't say)."""
        if not self.usable(action_token) or not query.strip():
            return []
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._slack.assistant_search_context(
                    query=query,
                    action_token=action_token,
                    channel_types=self.channel_types,
                    content_types=["messages"],
                    limit=LIMIT,
                )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in LASTING:
                self._off_until = self._clock() + OFF_SECONDS
                log.info("Slack search is not available to this app (%s); using the own index", error)
            else:
                log.warning("Slack search failed (%s); using the own index", error)
            return []
        except (aiohttp.ClientError, TimeoutError):
            log.warning("Slack search did not answer in time; using the own index")
            return []
        return parse_results(dict(response.data) if isinstance(response.data, dict) else {})
