"""Daily token allowances per person and per channel, counted in Redis so replicas share them.

The count is what RelayDance reported (`usage` in the stream's last chunk), or an estimate when
it reported nothing; it is checked before an answer starts and added once it ends, so an answer
that starts under the limit may end a little over it. Days are UTC days: a counter's key names
its day and expires a day after that day ends. While Redis is unavailable nobody is held back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard

USER_LIMIT = "You've used today's answer allowance ({limit} tokens); it resets at 00:00 UTC."
CHANNEL_LIMIT = "This channel has used today's answer allowance ({limit} tokens); it resets at 00:00 UTC."
_DAY = 86_400


class DailyQuotas:
    def __init__(
        self,
        redis: aioredis.Redis,
        guard: RedisGuard,
        *,
        prefix: str,
        per_user: int | None,
        per_channel: int | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self.per_user = per_user
        self.per_channel = per_channel
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self.per_user is not None or self.per_channel is not None

    def _day(self) -> int:
        return int(self._clock() // _DAY)

    def user_key(self, team: str, user: str) -> str:
        return f"{self._prefix}:quota:{self._day()}:user:{team}:{user}"

    def channel_key(self, team: str, channel: str) -> str:
        return f"{self._prefix}:quota:{self._day()}:channel:{team}:{channel}"

    async def refusal(self, team: str, user: str | None, channel: str) -> str | None:
        """The sentence to answer with when `user` or `channel` has used today's allowance."""
        if not self.enabled:
            return None
        checks: list[tuple[str, int, str]] = []
        if self.per_user is not None and user:
            checks.append((self.user_key(team, user), self.per_user, USER_LIMIT))
        if self.per_channel is not None:
            checks.append((self.channel_key(team, channel), self.per_channel, CHANNEL_LIMIT))
        if not checks:
            return None

        async def op() -> list[int]:
            values = await self._r.mget([key for key, _, _ in checks])
            return [int(v or 0) for v in values]

        used = await self._guard.run(op, [0] * len(checks), what="quota")
        for (_, limit, sentence), spent in zip(checks, used, strict=True):
            if spent >= limit:
                return sentence.format(limit=f"{limit:,}")
        return None

    async def spend(self, team: str, user: str | None, channel: str, tokens: int) -> None:
        if not self.enabled or tokens <= 0:
            return
        keys = []
        if self.per_user is not None and user:
            keys.append(self.user_key(team, user))
        if self.per_channel is not None:
            keys.append(self.channel_key(team, channel))
        if not keys:
            return
        expires = (self._day() + 2) * _DAY  # a day after this day ends

        async def op() -> None:
            async with self._r.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.incrby(key, tokens)
                    pipe.expireat(key, expires)
                await pipe.execute()

        await self._guard.run(op, None, what="quota")
