"""Which knowledge index to use (KNOWLEDGE_INDEX), decided once at start-up from what the Redis
server offers: the Query Engine (FT.CREATE / FT.SEARCH) when it has one, plain data structures
otherwise.

The engine is found in MODULE LIST (RediSearch 1.x is the module `ft`; 2.x, Redis Stack and
Redis 8 call it `search`; `ver` is major * 10000 + minor * 100 + patch). Some managed servers
refuse MODULE LIST: then the engine is asked itself (FT._LIST exists from 2.0 on; before that
FT.INFO of an unknown index still proves the engine is there).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from bot.errors import ConfigError

log = logging.getLogger(__name__)

MODULE_NAMES = ("search", "ft")
SETTING = "KNOWLEDGE_INDEX"


async def command(redis: aioredis.Redis, *args: str | int | float) -> Any:
    """A command redis-py has no typed method for (MODULE LIST's shape, the FT.* family)."""
    return await redis.execute_command(*args)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def detect(redis: aioredis.Redis) -> int | None:
    """The Query Engine's major version on this server; None when it has none."""
    try:
        modules = await command(redis, "MODULE", "LIST")
    except ResponseError:  # refused (managed Redis, ACLs): ask the engine itself
        return await _probe(redis)
    for entry in modules or ():  # redis-py gives each module as a dict
        fields: Mapping[Any, Any] = {_text(k): v for k, v in entry.items()}
        if _text(fields.get("name", "")).lower() in MODULE_NAMES:
            return max(int(_text(fields.get("ver", 0))) // 10_000, 1)
    return None


async def _probe(redis: aioredis.Redis) -> int | None:
    try:
        await command(redis, "FT._LIST")
        return 2
    except ResponseError:
        pass
    try:
        await command(redis, "FT.INFO", "rdbot-probe-no-such-index")
    except ResponseError as exc:
        return None if "unknown command" in str(exc).lower() else 1
    return 1  # pragma: no cover - an index of that name, so the engine is there


async def choose(redis: aioredis.Redis, mode: str) -> int | None:
    """The engine version to index with (None: plain Redis) for KNOWLEDGE_INDEX `mode`
    (auto | redis | search); `search` on a server without the engine stops start-up."""
    if mode == "redis":
        log.info("knowledge index: plain Redis data structures (%s=redis)", SETTING)
        return None
    try:
        engine = await detect(redis)
    except (RedisError, OSError) as exc:
        if mode == "search":
            log.warning(
                "knowledge index: Redis could not be asked for its Query Engine (%s); "
                "assuming a current one (%s=search)",
                type(exc).__name__,
                SETTING,
            )
            return 2
        log.warning(
            "knowledge index: Redis could not be asked for its Query Engine (%s); using plain Redis",
            type(exc).__name__,
        )
        return None
    if engine is None:
        if mode == "search":
            raise ConfigError(
                SETTING,
                "is search, but this Redis server has no Query Engine (FT.CREATE / FT.SEARCH): "
                "use Redis 8 or Redis Stack, load the RediSearch module, or set it to auto or redis",
            )
        log.info("knowledge index: plain Redis data structures (no Query Engine on this server)")
        return None
    log.info("knowledge index: the Redis Query Engine %d.x (%s=%s)", engine, SETTING, mode)
    return engine
