"""A value fetched from elsewhere and kept for a while (RelayDance's model list), shared by replicas."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard


class ValueCache:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix

    def _key(self, name: str) -> str:
        return f"{self._prefix}:cache:{name}"

    async def get(self, name: str) -> str | None:
        async def op() -> str | None:
            value = await self._r.get(self._key(name))
            return None if value is None else str(value)

        return await self._guard.run(op, None, what="cache")

    async def put(self, name: str, value: str, *, ttl: int) -> None:
        await self._guard.run(lambda: self._r.set(self._key(name), value, ex=ttl), None, what="cache")
