"""A per-person limit on how often something may be done in a minute, shared by every replica.

Counted in Redis (one counter per person per clock minute, gone two minutes later), so pressing
the same button on two replicas counts once each toward one limit. While Redis is unavailable
nobody is held back: a throttle must not become the reason the bot stops working.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard


class Throttle:
    def __init__(
        self,
        redis: aioredis.Redis,
        guard: RedisGuard,
        *,
        prefix: str,
        name: str,
        per_minute: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._name = name
        self.per_minute = per_minute
        self._clock = clock

    def key(self, team: str, user: str) -> str:
        minute = int(self._clock() // 60)
        return f"{self._prefix}:throttle:{self._name}:{team}:{user}:{minute}"

    async def allow(self, team: str, user: str) -> bool:
        """Count one more for `user`; False once they have had `per_minute` this minute."""
        key = self.key(team, user)

        async def op() -> bool:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, 120)
                count, _ = await pipe.execute()
            return int(count) <= self.per_minute

        return await self._guard.run(op, True, what="throttle")
