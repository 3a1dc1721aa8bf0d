"""Keep answering when Redis stalls or is down.

Every Redis call goes through `RedisGuard.run`, which bounds it in time and turns a failure into
the caller's fallback value. A command Redis refuses (text it cannot encode, a wrong type) costs
only that call. After a connection failure or a timeout the guard stops trying for a short
cool-down, so a dead Redis costs each mention nothing instead of a timeout per call; the first
call after the cool-down probes again, so a Redis that comes back is used again without a
restart. Outages are logged once when they start and once when they end, not per call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import DataError, RedisError, ResponseError

T = TypeVar("T")
log = logging.getLogger(__name__)


def connect(url: str, *, timeout: float) -> aioredis.Redis:
    """A client with short socket timeouts and one immediate retry (for a connection that went
    stale across a Redis restart); no long default backoff that would stall a mention."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        decode_responses=True,
        health_check_interval=30,
    )


class RedisGuard:
    def __init__(self, *, timeout: float, cooldown: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.timeout = timeout
        self.cooldown = cooldown
        self._clock = clock
        self._down_until = 0.0
        self._down = False

    @property
    def healthy(self) -> bool:
        return not self._down

    async def run(self, op: Callable[[], Awaitable[T]], fallback: T, *, what: str = "redis") -> T:
        if self._down and self._clock() < self._down_until:
            return fallback
        try:
            async with asyncio.timeout(self.timeout * 3):
                result = await op()
        except (UnicodeError, DataError, ResponseError) as exc:
            # Redis is there but refused this one command (odd text, a wrong type): not an outage.
            log.warning("Redis refused %s (%s); going on without it", what, type(exc).__name__)
            return fallback
        except (RedisError, OSError, TimeoutError) as exc:
            if not self._down:
                log.warning(
                    "Redis is unavailable (%s during %s); answering without it until it returns",
                    type(exc).__name__,
                    what,
                )
            self._down = True
            self._down_until = self._clock() + self.cooldown
            return fallback
        if self._down:
            self._down = False
            log.warning("Redis is reachable again; history and deduplication are back")
        return result


async def ping(redis: aioredis.Redis, guard: RedisGuard) -> bool:
    """Whether Redis answers (the health check and the start-up probe)."""

    async def op() -> bool:
        return bool(await redis.ping())

    return await guard.run(op, False, what="ping")
