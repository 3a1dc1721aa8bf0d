"""👍/👎 on answers: one vote per person and answer, counted per workspace, with a log for review."""

from __future__ import annotations

import json
import time

import redis.asyncio as aioredis

from bot.stores.answers import AnswerRecord
from bot.stores.guard import RedisGuard
from bot.stores.scripts import Script

LOG_LENGTH = 10_000

# KEYS: votes (user -> vote), counts (vote -> n), log. ARGV: user, vote, ttl, log entry, log length.
VOTE = """
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if previous then redis.call('HINCRBY', KEYS[2], previous, -1) end
redis.call('LPUSH', KEYS[3], ARGV[4])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
return 1
"""


class Feedback:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str, ttl_seconds: int) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._vote = Script(redis, VOTE)

    def votes_key(self, answer_id: str) -> str:
        return f"{self._prefix}:votes:{answer_id}"

    def log_key(self, team: str) -> str:
        return f"{self._prefix}:feedback:{team}"

    def counts_key(self, team: str) -> str:
        return f"{self._prefix}:feedbackcounts:{team}"

    async def vote(self, record: AnswerRecord, user: str, vote: str) -> bool:
        """Record 👍/👎 once per user and answer (a changed vote moves the count); True when it
        changed anything. One script: a double click, even reaching two replicas, counts once."""
        entry = {
            "answer_id": record.answer_id,
            "channel": record.channel,
            "model": record.model,
            "latency_ms": record.latency_ms,
            "user": user,
            "vote": vote,
            "at": int(time.time()),
        }
        keys = [self.votes_key(record.answer_id), self.counts_key(record.team), self.log_key(record.team)]

        async def op() -> bool:
            args: list[str | int] = [user, vote, self._ttl, json.dumps(entry), LOG_LENGTH]
            return bool(await self._vote(keys=keys, args=args))

        return await self._guard.run(op, False, what="feedback")

    async def counts(self, team: str) -> dict[str, int]:
        async def op() -> dict[str, int]:
            raw = {str(k): str(v) for k, v in (await self._r.hgetall(self.counts_key(team))).items()}
            return {"up": int(raw.get("up", 0)), "down": int(raw.get("down", 0))}

        return await self._guard.run(op, {"up": 0, "down": 0}, what="feedback")
