"""👍/👎 on answers: one vote per person and answer, counted per workspace, with a log for review."""

from __future__ import annotations

import json
import time

import redis.asyncio as aioredis

from bot.stores.answers import AnswerRecord
from bot.stores.guard import RedisGuard

LOG_LENGTH = 10_000


class Feedback:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str, ttl_seconds: int) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._ttl = ttl_seconds

    def votes_key(self, answer_id: str) -> str:
        return f"{self._prefix}:votes:{answer_id}"

    def log_key(self, team: str) -> str:
        return f"{self._prefix}:feedback:{team}"

    def counts_key(self, team: str) -> str:
        return f"{self._prefix}:feedbackcounts:{team}"

    async def vote(self, record: AnswerRecord, user: str, vote: str) -> bool:
        """Record 👍/👎 once per user and answer (a changed vote moves the count)."""

        async def op() -> bool:
            previous = await self._r.hget(self.votes_key(record.answer_id), user)
            if previous == vote:
                return False
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.hset(self.votes_key(record.answer_id), user, vote)
                pipe.expire(self.votes_key(record.answer_id), self._ttl)
                counts = self.counts_key(record.team)
                pipe.hincrby(counts, vote, 1)
                if previous:
                    pipe.hincrby(counts, str(previous), -1)
                entry = {
                    "answer_id": record.answer_id,
                    "channel": record.channel,
                    "model": record.model,
                    "latency_ms": record.latency_ms,
                    "user": user,
                    "vote": vote,
                    "at": int(time.time()),
                }
                pipe.lpush(self.log_key(record.team), json.dumps(entry))
                pipe.ltrim(self.log_key(record.team), 0, LOG_LENGTH - 1)
                await pipe.execute()
            return True

        return await self._guard.run(op, False, what="feedback")

    async def counts(self, team: str) -> dict[str, int]:
        async def op() -> dict[str, int]:
            raw = {str(k): str(v) for k, v in (await self._r.hgetall(self.counts_key(team))).items()}
            return {"up": int(raw.get("up", 0)), "down": int(raw.get("down", 0))}

        return await self._guard.run(op, {"up": 0, "down": 0}, what="feedback")
