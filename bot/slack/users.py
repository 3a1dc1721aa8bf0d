"""Display names for user IDs: process cache, then Redis, then `users.info` (tier 4, so cached);
and someone's standing in the workspace (admin, guest)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.stores.names import NameCache

log = logging.getLogger(__name__)


STANDING_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Standing:
    admin: bool
    guest: bool  # a multi- or single-channel guest: sees only the channels they are in


class UserDirectory:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        cache: NameCache,
        max_local: int = 50_000,
        standing_seconds: float = STANDING_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self._cache = cache
        self._local: dict[tuple[str, str], str] = {}
        self._max_local = max_local
        self._lookups = asyncio.Semaphore(10)
        self._standing_seconds = standing_seconds
        self._standings: dict[str, tuple[float, Standing]] = {}
        self._clock = clock

    async def names(self, team: str, users: Iterable[str]) -> dict[str, str]:
        wanted = [u for u in dict.fromkeys(users) if u]
        found = {u: self._local[(team, u)] for u in wanted if (team, u) in self._local}
        missing = [u for u in wanted if u not in found]
        if missing:
            cached = await self._cache.get(team, missing)
            found.update(cached)
            missing = [u for u in missing if u not in cached]
        if missing:
            looked_up = dict(
                zip(missing, await asyncio.gather(*(self._lookup(u) for u in missing)), strict=True)
            )
            fresh = {u: n for u, n in looked_up.items() if n is not None}
            await self._cache.put(team, fresh)
            found.update(fresh)
        if len(self._local) > self._max_local:
            self._local.clear()
        for user, name in found.items():
            self._local[(team, user)] = name
        return found

    async def standing(self, user: str) -> Standing:
        """Whether `user` is a workspace admin or a guest, from users.info, kept for a short while
        (`standing_seconds`: an answer in a channel checks every member, and users.info is
        rationed; a change of role shows after at most that long). An unknown user, or a failed
        lookup (not kept), counts as a guest who is no admin: access then rests on membership."""
        now = self._clock()
        kept = self._standings.get(user)
        if kept is not None and kept[0] > now:
            return kept[1]
        try:
            response = await self._slack.users_info(user=user)
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            return Standing(admin=False, guest=True)
        info = response.get("user") or {}
        standing = Standing(
            admin=bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner")),
            guest=bool(info.get("is_restricted") or info.get("is_ultra_restricted")),
        )
        if len(self._standings) > self._max_local:
            self._standings.clear()
        self._standings[user] = (now + self._standing_seconds, standing)
        return standing

    async def is_admin(self, user: str) -> bool:
        """Workspace admins and owners."""
        return (await self.standing(user)).admin

    async def _lookup(self, user: str) -> str | None:
        async with self._lookups:
            try:
                response = await self._slack.users_info(user=user)
            except SlackApiError as exc:
                log.info("users.info for %s failed: %s", user, exc.response.get("error"))
                return None
            except (aiohttp.ClientError, TimeoutError) as exc:
                # A name is decoration: the prompt shows the ID instead, and the answer goes on.
                log.info("users.info for %s failed: %s", user, type(exc).__name__)
                return None
        info = response.get("user") or {}
        profile = info.get("profile") or {}
        for candidate in (
            profile.get("display_name"),
            profile.get("real_name"),
            info.get("real_name"),
            info.get("name"),
        ):
            if candidate:
                return str(candidate)
        return None
