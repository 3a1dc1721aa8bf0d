"""Keep answering when Redis stalls or is down, judging Redis by its calls, not by one of them.

Every Redis call goes through `RedisGuard.run`, which bounds it in time and turns a failure into
the caller's fallback value. A command Redis refuses (text it cannot encode, a wrong type) costs
only that call. A connection failure or a timeout costs that call too, and counts towards a
circuit breaker: only `threshold` failures in a row (within `window` seconds) open it, so one
slow call under load does not switch the whole process to its degraded mode (history from
Slack, deduplication in this process only). While open, calls return their fallback at once
instead of each waiting for a timeout; after `cooldown` one call is let through to probe, and
its success closes the breaker, so a Redis that comes back is used again without a restart.
Outages are logged once when the breaker opens and once when it closes, not per call. A cancel
that reaches the task during a call is raised when the call returns, even where redis-py's send
swallowed it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo
from redis.exceptions import DataError, RedisError, ResponseError

from bot.stores.coalesce import CoalescingRedis
from bot.stores.pool import SlotPool

T = TypeVar("T")
log = logging.getLogger(__name__)

THRESHOLD = 3  # failures in a row that mean "Redis is down"
WINDOW = 10.0  # seconds within which they must fall
COOLDOWN = 1.0  # seconds the breaker stays open before it probes
MAX_CONNECTIONS = 100  # per process (REDIS_MAX_CONNECTIONS)
BOUND = 3  # one call (a few round trips, or a wait for a connection) may take BOUND × the timeout


def call_bound(timeout: float) -> float:
    """How long one guarded call may take, for a round-trip `timeout` (REDIS_TIMEOUT)."""
    return timeout * BOUND


def connect(url: str, *, timeout: float, max_connections: int = MAX_CONNECTIONS) -> CoalescingRedis:
    """A client with one immediate retry (for a connection that went stale across a Redis
    restart); no long default backoff that would stall a mention.

    No socket timeout: every call runs under `RedisGuard.run`'s bound, and redis-py with one
    sends each command through `asyncio.wait_for`, a task per command (~10% of a call's CPU).
    Connecting keeps its timeout, for a Redis that does not accept.

    At most `max_connections` connections (`SlotPool`); beyond them a call waits for one to be
    free (the guard bounds the wait with the call). Commands issued in the same turn of the event
    loop go together as one pipeline (`CoalescingRedis`).

    The driver's name and version (sent with CLIENT SETINFO) are looked up once here: left to
    redis-py, every new connection reads the package metadata from disk (~1 ms)."""
    pool = SlotPool.from_url(
        url,
        max_connections=max_connections,
        socket_timeout=None,  # redis-py's default is 5 s
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        decode_responses=True,
        health_check_interval=30,
        driver_info=DriverInfo(),
    )
    client = CoalescingRedis(connection_pool=pool, batch_timeout=call_bound(timeout))
    client.auto_close_connection_pool = True  # as `from_pool` does: closing the client closes it
    return client


class RedisGuard:
    def __init__(
        self,
        *,
        timeout: float,
        threshold: int = THRESHOLD,
        window: float = WINDOW,
        cooldown: float = COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.threshold = threshold
        self.window = window
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._first_failure_at = 0.0
        self._open = False
        self._open_until = 0.0
        self._probing = False
        self._answered_at = -math.inf  # when Redis last answered a call

    @property
    def bound(self) -> float:
        """How long one call may take before its fallback is returned."""
        return call_bound(self.timeout)

    @property
    def healthy(self) -> bool:
        """False while the breaker is open (Redis judged down)."""
        return not self._open

    async def run(self, op: Callable[[], Awaitable[T]], fallback: T, *, what: str = "redis") -> T:
        probe = self._open
        if probe:
            if self._probing or self._clock() < self._open_until:
                return fallback
            self._probing = True  # this call probes; the others keep their fallback meanwhile
        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        began = self._clock()
        try:
            async with asyncio.timeout(self.bound):
                result = await op()
            if task is not None and task.cancelling() > cancels:
                # redis-py sends through asyncio.wait_for, which on Python 3.11 returns the result
                # and drops a cancel that lands as the send completes (fixed in 3.12). A Stop or a
                # shutdown cancels tasks that are often inside a Redis call: deliver it here.
                raise asyncio.CancelledError
        except (UnicodeError, DataError, ResponseError) as exc:
            # Redis is there but refused this one command (odd text, a wrong type): not an outage.
            log.warning("Redis refused %s (%s); going on without it", what, type(exc).__name__)
            self._succeeded()
            return fallback
        except TimeoutError as exc:
            if self._answered_at > began:
                # Redis answered other calls meanwhile: this one waited on a busy process (a
                # burst of answers queueing for connections and for the event loop), not on
                # Redis. 1,000 answers at once timed out 357 calls so; counted, they opened the
                # breaker and the process went on without Redis for a while.
                log.debug("a Redis call (%s) took too long while Redis answered others", what)
            else:
                self._failed(exc, what)
            return fallback
        except (RedisError, OSError) as exc:
            self._failed(exc, what)
            return fallback
        finally:
            if probe:
                self._probing = False
        self._succeeded()
        return result

    def _failed(self, exc: BaseException, what: str) -> None:
        now = self._clock()
        if self._open:  # the probe failed: stay open for another cool-down
            self._open_until = now + self.cooldown
            return
        if self._failures == 0 or now - self._first_failure_at > self.window:
            self._failures, self._first_failure_at = 0, now
        self._failures += 1
        if self._failures < self.threshold:
            log.info(
                "Redis call failed (%s during %s); going on without it for this call",
                type(exc).__name__,
                what,
            )
            return
        self._open, self._open_until = True, now + self.cooldown
        log.warning(
            "Redis is unavailable (%s during %s); answering without it until it returns",
            type(exc).__name__,
            what,
        )

    def _succeeded(self) -> None:
        self._answered_at = self._clock()
        self._failures = 0
        if self._open:
            self._open = False
            log.warning("Redis is reachable again; history and deduplication are back")


async def ping(redis: aioredis.Redis, guard: RedisGuard) -> bool:
    """Whether Redis answers (the health check and the start-up probe)."""

    async def op() -> bool:
        return bool(await redis.ping())

    return await guard.run(op, False, what="ping")
