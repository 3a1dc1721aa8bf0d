"""Display names (users, and channels and user groups referenced by ID) kept in Redis for a day,
so every replica and a restarted bot skip `users.info`, `conversations.info` and `usergroups.list`."""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard


class NameCache:
    def __init__(
        self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str, ttl_seconds: int = 86_400
    ) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, team: str, user: str) -> str:
        return f"{self._prefix}:user:{team}:{user}"

    async def get(self, team: str, users: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(users))
        if not wanted:
            return {}

        async def op() -> dict[str, str]:
            values = await self._r.mget([self._key(team, u) for u in wanted])
            return {u: str(v) for u, v in zip(wanted, values, strict=True) if v is not None}

        return await self._guard.run(op, {}, what="names")

    async def put(self, team: str, names: dict[str, str]) -> None:
        if not names:
            return

        async def op() -> None:
            async with self._r.pipeline(transaction=False) as pipe:
                for user, name in names.items():
                    pipe.set(self._key(team, user), name, ex=self._ttl)
                await pipe.execute()

        await self._guard.run(op, None, what="names")
