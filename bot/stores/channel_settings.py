"""Per-channel overrides of the environment's defaults, set by admins from Slack."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

from bot.settings import Settings
from bot.stores.guard import RedisGuard


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """Per-channel overrides set from Slack; None means "use the environment's default"."""

    system_prompt: str | None = None
    model: str | None = None
    temperature: float | None = None
    followups: bool | None = None
    knowledge: bool | None = None  # search past threads for answers here

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: str) -> ChannelConfig:
        data = json.loads(raw)
        temperature = data.get("temperature")
        followups = data.get("followups")
        knowledge = data.get("knowledge")
        return cls(
            system_prompt=data.get("system_prompt") or None,
            model=data.get("model") or None,
            temperature=float(temperature) if temperature is not None else None,
            followups=bool(followups) if followups is not None else None,
            knowledge=bool(knowledge) if knowledge is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Effective:
    """A channel's settings with the environment's defaults filled in."""

    system_prompt: str
    model: str
    temperature: float | None
    followups: bool
    knowledge: bool = True


def effective(settings: Settings, config: ChannelConfig) -> Effective:
    return Effective(
        system_prompt=config.system_prompt or settings.system_prompt,
        model=config.model or settings.relaydance_model,
        temperature=config.temperature if config.temperature is not None else settings.temperature,
        followups=config.followups if config.followups is not None else settings.followups_without_mention,
        knowledge=config.knowledge if config.knowledge is not None else settings.knowledge_threads > 0,
    )


class ChannelSettings:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str, defaults: Settings) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._defaults = defaults

    def _key(self, team: str, channel: str) -> str:
        return f"{self._prefix}:chancfg:{team}:{channel}"

    def _configured_key(self, team: str) -> str:
        return f"{self._prefix}:chancfgset:{team}"

    async def get(self, team: str, channel: str) -> ChannelConfig:
        async def op() -> ChannelConfig:
            raw = await self._r.get(self._key(team, channel))
            return ChannelConfig.loads(str(raw)) if raw else ChannelConfig()

        return await self._guard.run(op, ChannelConfig(), what="channel settings")

    async def effective(self, team: str, channel: str) -> Effective:
        return effective(self._defaults, await self.get(team, channel))

    async def set(self, team: str, channel: str, config: ChannelConfig) -> bool:
        async def op() -> bool:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.set(self._key(team, channel), config.dumps())
                pipe.sadd(self._configured_key(team), channel)
                await pipe.execute()
            return True

        return await self._guard.run(op, False, what="channel settings")

    async def configured_channels(self, team: str) -> list[tuple[str, str]]:
        """Channels with settings of their own, as (id, name) pairs for App Home (name = id)."""

        async def op() -> list[tuple[str, str]]:
            members = await self._r.smembers(self._configured_key(team))
            return [(str(c), str(c)) for c in sorted(members)]

        return await self._guard.run(op, [], what="channel settings")
