"""Answers and tokens per person, for App Home (and, later, quotas)."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard


class UsageLedger:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix

    def _key(self, team: str, user: str) -> str:
        return f"{self._prefix}:usage:{team}:{user}"

    async def add(self, team: str, user: str, *, tokens: int) -> None:
        async def op() -> None:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.hincrby(self._key(team, user), "answers", 1)
                pipe.hincrby(self._key(team, user), "tokens", tokens)
                await pipe.execute()

        await self._guard.run(op, None, what="usage")

    async def get(self, team: str, user: str) -> dict[str, int]:
        async def op() -> dict[str, int]:
            raw = {str(k): str(v) for k, v in (await self._r.hgetall(self._key(team, user))).items()}
            return {"answers": int(raw.get("answers", 0)), "tokens": int(raw.get("tokens", 0))}

        return await self._guard.run(op, {"answers": 0, "tokens": 0}, what="usage")
