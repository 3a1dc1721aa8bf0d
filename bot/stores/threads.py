"""Threads the bot takes part in: there, people may go on without mentioning it."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.model import Conversation
from bot.stores.guard import RedisGuard


class ActiveThreads:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str, ttl_seconds: int) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, conv: Conversation) -> str:
        return f"{self._prefix}:active:{conv.id}"

    async def mark(self, conv: Conversation) -> None:
        await self._guard.run(lambda: self._r.set(self._key(conv), "1", ex=self._ttl), None, what="mark")

    async def is_active(self, conv: Conversation) -> bool:
        async def op() -> bool:
            return bool(await self._r.exists(self._key(conv)))

        return await self._guard.run(op, False, what="active check")
