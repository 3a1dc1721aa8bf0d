"""Names for channels and user groups a message names by ID alone (`<#C1>`, `<!subteam^S1>`).

Rich-text messages and many apps write these references without a label, and the model would
read bare IDs. Channel names come from `conversations.info`, user group handles from one
`usergroups.list` (scope `usergroups:read`) for the whole workspace; both are kept in Redis for
a day with the user names. A reference Slack will not resolve (a private channel the bot is not
in, a deleted group, a token without `usergroups:read`) reads as a neutral "a channel" or "a user
group", and the refusal is remembered here for a while so each read does not ask again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.stores.names import NameCache

log = logging.getLogger(__name__)

UNKNOWN_CHANNEL = "a channel"
UNKNOWN_GROUP = "a user group"
REFUSED_SECONDS = 600.0
# Errors that say nothing about the reference itself: the next read asks again.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class ReferenceDirectory:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        cache: NameCache,
        refused_seconds: float = REFUSED_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self._cache = cache
        self._refused_seconds = refused_seconds
        self._clock = clock
        self._refused: dict[tuple[str, str], float] = {}  # (team, id or "usergroups") → until
        self._lookups = asyncio.Semaphore(5)

    async def names(self, team: str, ids: Iterable[str]) -> dict[str, str]:
        """`#channel` / `@handle` (or the neutral words) for each channel and user group ID."""
        wanted = [i for i in dict.fromkeys(ids) if i[:1] in ("C", "G", "S")]
        if not wanted:
            return {}
        found = await self._cache.get(team, wanted)
        missing = [i for i in wanted if i not in found]
        groups = [i for i in missing if i.startswith("S")]
        channels = [i for i in missing if not i.startswith("S")]
        fresh: dict[str, str] = {}
        if groups:
            fresh.update(await self._groups(team))
        looked_up = await asyncio.gather(*(self._channel(team, c) for c in channels))
        fresh.update({c: name for c, name in zip(channels, looked_up, strict=True) if name})
        await self._cache.put(team, fresh)
        found.update({i: fresh[i] for i in missing if i in fresh})
        for i in missing:
            if i not in found:
                found[i] = UNKNOWN_GROUP if i.startswith("S") else UNKNOWN_CHANNEL
        return found

    async def _groups(self, team: str) -> dict[str, str]:
        """Every user group's handle (deleted ones too: old messages name them)."""
        if self._is_refused(team, "usergroups"):
            return {}
        try:
            response = await self._slack.usergroups_list(include_disabled=True)
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.info("usergroups.list failed: %s", error)
            if error not in TRANSIENT_ERRORS:  # missing_scope above all
                self._refuse(team, "usergroups")
            return {}
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("usergroups.list failed: %s", type(exc).__name__)
            return {}
        out: dict[str, str] = {}
        for group in response.get("usergroups") or ():
            if isinstance(group, dict) and group.get("id") and group.get("handle"):
                out[str(group["id"])] = "@" + str(group["handle"])
        return out

    async def _channel(self, team: str, channel: str) -> str | None:
        if self._is_refused(team, channel):
            return None
        async with self._lookups:
            try:
                response = await self._slack.conversations_info(channel=channel)
            except SlackApiError as exc:
                error = exc.response.get("error")
                log.info("conversations.info for %s failed: %s", channel, error)
                if error not in TRANSIENT_ERRORS:  # channel_not_found: private, or gone
                    self._refuse(team, channel)
                return None
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("conversations.info for %s failed: %s", channel, type(exc).__name__)
                return None
        info = response.get("channel") or {}
        name = info.get("name") if isinstance(info, dict) else None
        return f"#{name}" if isinstance(name, str) and name else None

    def _is_refused(self, team: str, what: str) -> bool:
        until = self._refused.get((team, what))
        return until is not None and until > self._clock()

    def _refuse(self, team: str, what: str) -> None:
        if len(self._refused) > 10_000:
            self._refused.clear()
        self._refused[(team, what)] = self._clock() + self._refused_seconds
