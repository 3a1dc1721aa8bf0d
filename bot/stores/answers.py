"""What the bot remembers of each answer it posted: enough to replay it (Regenerate) and to file
feedback on it with its channel, model and latency."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from bot.model import AnswerKind, Replay, kind_of, replay_from_json, replay_to_json
from bot.stores.guard import RedisGuard

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    answer_id: str
    team: str
    channel: str
    asker: str | None
    replay: Replay
    model: str = ""
    latency_ms: int | None = None
    message_ts: list[str] = field(default_factory=list)

    @property
    def kind(self) -> AnswerKind:
        return kind_of(self.replay)

    def dumps(self) -> str:
        return json.dumps(
            {
                "answer_id": self.answer_id,
                "team": self.team,
                "channel": self.channel,
                "asker": self.asker,
                "replay": replay_to_json(self.replay),
                "model": self.model,
                "latency_ms": self.latency_ms,
                "message_ts": self.message_ts,
            },
            ensure_ascii=False,
        )

    @classmethod
    def loads(cls, raw: str) -> AnswerRecord:
        data = json.loads(raw)
        return cls(
            answer_id=str(data["answer_id"]),
            team=str(data["team"]),
            channel=str(data["channel"]),
            asker=data.get("asker"),
            replay=replay_from_json(data["replay"]),
            model=str(data.get("model") or ""),
            latency_ms=data.get("latency_ms"),
            message_ts=[str(ts) for ts in data.get("message_ts") or ()],
        )


class AnswerRecords:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str, ttl_seconds: int) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, answer_id: str) -> str:
        return f"{self._prefix}:answer:{answer_id}"

    async def save(self, record: AnswerRecord) -> None:
        await self._guard.run(
            lambda: self._r.set(self._key(record.answer_id), record.dumps(), ex=self._ttl),
            None,
            what="answer",
        )

    async def get(self, answer_id: str) -> AnswerRecord | None:
        """The record, or None when it expired, never existed or cannot be read (an older format)."""

        async def op() -> str | None:
            raw = await self._r.get(self._key(answer_id))
            return None if raw is None else str(raw)

        raw = await self._guard.run(op, None, what="answer")
        if raw is None:
            return None
        try:
            return AnswerRecord.loads(raw)
        except (KeyError, ValueError, TypeError):
            log.info("answer record %s is unreadable; treating it as expired", answer_id)
            return None
