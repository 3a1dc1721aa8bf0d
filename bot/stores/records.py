"""Small records kept beside history: per-channel settings, answers (for Regenerate and feedback),
feedback votes and per-user usage. Keys come from `history.Keys`; every call goes through the guard,
so a Redis outage degrades these to defaults instead of failing an answer."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis

from bot.settings import Settings
from bot.stores.guard import RedisGuard
from bot.stores.history import Keys


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """Per-channel overrides set from Slack; None means "use the environment's default"."""

    system_prompt: str | None = None
    model: str | None = None
    temperature: float | None = None
    followups: bool | None = None

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: str) -> ChannelConfig:
        data = json.loads(raw)
        temperature = data.get("temperature")
        followups = data.get("followups")
        return cls(
            system_prompt=data.get("system_prompt") or None,
            model=data.get("model") or None,
            temperature=float(temperature) if temperature is not None else None,
            followups=bool(followups) if followups is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Effective:
    system_prompt: str
    model: str
    temperature: float | None
    followups: bool


def effective(settings: Settings, config: ChannelConfig) -> Effective:
    return Effective(
        system_prompt=config.system_prompt or settings.system_prompt,
        model=config.model or settings.relaydance_model,
        temperature=config.temperature if config.temperature is not None else settings.temperature,
        followups=config.followups if config.followups is not None else settings.followups_without_mention,
    )


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """What Regenerate and feedback need to know about an answer after it was posted."""

    answer_id: str
    team: str
    channel: str
    asker: str | None
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    latency_ms: int | None = None
    message_ts: list[str] = field(default_factory=list)

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: str) -> AnswerRecord:
        return cls(**json.loads(raw))


class Records:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, keys: Keys, *, ttl_seconds: int) -> None:
        self._r = redis
        self._guard = guard
        self.keys = keys
        self.ttl = ttl_seconds

    async def channel_config(self, team: str, channel: str) -> ChannelConfig:
        async def op() -> ChannelConfig:
            raw = await self._r.get(self.keys.channel_config(team, channel))
            return ChannelConfig.loads(str(raw)) if raw else ChannelConfig()

        return await self._guard.run(op, ChannelConfig(), what="channel settings")

    async def set_channel_config(self, team: str, channel: str, config: ChannelConfig) -> bool:
        async def op() -> bool:
            await self._r.set(self.keys.channel_config(team, channel), config.dumps())
            await self._r.sadd(self.keys.configured_channels(team), channel)
            return True

        return await self._guard.run(op, False, what="channel settings")

    async def configured_channels(self, team: str) -> list[tuple[str, str]]:
        """Channels with settings of their own, as (id, name) pairs for App Home (name = id)."""

        async def op() -> list[tuple[str, str]]:
            members = await self._r.smembers(self.keys.configured_channels(team))
            return [(str(c), str(c)) for c in sorted(members)]

        return await self._guard.run(op, [], what="channel settings")

    async def save_answer(self, record: AnswerRecord) -> None:
        await self._guard.run(
            lambda: self._r.set(self.keys.answer(record.answer_id), record.dumps(), ex=self.ttl),
            None,
            what="answer",
        )

    async def answer(self, answer_id: str) -> AnswerRecord | None:
        async def op() -> AnswerRecord | None:
            raw = await self._r.get(self.keys.answer(answer_id))
            return AnswerRecord.loads(str(raw)) if raw else None

        return await self._guard.run(op, None, what="answer")

    async def vote(self, record: AnswerRecord, user: str, vote: str) -> bool:
        """Record 👍/👎 once per user and answer (a changed vote moves the count)."""

        async def op() -> bool:
            previous = await self._r.hget(self.keys.feedback_votes(record.answer_id), user)
            if previous == vote:
                return False
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.hset(self.keys.feedback_votes(record.answer_id), user, vote)
                pipe.expire(self.keys.feedback_votes(record.answer_id), self.ttl)
                counts = self.keys.feedback_counts(record.team)
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
                pipe.lpush(self.keys.feedback_log(record.team), json.dumps(entry))
                pipe.ltrim(self.keys.feedback_log(record.team), 0, 9_999)
                await pipe.execute()
            return True

        return await self._guard.run(op, False, what="feedback")

    async def feedback_counts(self, team: str) -> dict[str, int]:
        async def op() -> dict[str, int]:
            raw = {
                str(k): str(v) for k, v in (await self._r.hgetall(self.keys.feedback_counts(team))).items()
            }
            return {"up": int(raw.get("up", 0)), "down": int(raw.get("down", 0))}

        return await self._guard.run(op, {"up": 0, "down": 0}, what="feedback")

    async def add_usage(self, team: str, user: str, *, tokens: int) -> None:
        async def op() -> None:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.hincrby(self.keys.usage(team, user), "answers", 1)
                pipe.hincrby(self.keys.usage(team, user), "tokens", tokens)
                await pipe.execute()

        await self._guard.run(op, None, what="usage")

    async def usage(self, team: str, user: str) -> dict[str, int]:
        async def op() -> dict[str, int]:
            raw = {str(k): str(v) for k, v in (await self._r.hgetall(self.keys.usage(team, user))).items()}
            return {"answers": int(raw.get("answers", 0)), "tokens": int(raw.get("tokens", 0))}

        return await self._guard.run(op, {"answers": 0, "tokens": 0}, what="usage")
