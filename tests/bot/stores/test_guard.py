"""The circuit breaker in front of Redis: one slow or failed call costs that call only; several in
a row open the breaker, which probes again after a cool-down. Redis is real, reached through a
network hop the tests slow down or cut."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.stores.dedupe import Dedupe
from bot.stores.guard import RedisGuard, connect, ping
from tests.fakes.redis_proxy import RedisProxy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def proxied(redis_proxy: RedisProxy) -> AsyncIterator[aioredis.Redis]:
    # No socket timeout and no retry of its own: the guard's time bound is what cuts a slow call.
    client = aioredis.Redis.from_url(redis_proxy.url, decode_responses=True, retry=Retry(NoBackoff(), 0))
    await client.ping()
    try:
        yield client
    finally:
        await client.aclose()


def outage_logs(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    return (
        sum("unavailable" in m for m in messages),
        sum("reachable again" in m for m in messages),
    )


async def test_one_slow_call_does_not_leave_deduplication_to_this_process(
    redis_proxy: RedisProxy, proxied: aioredis.Redis, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    guard = RedisGuard(timeout=0.1)
    here = Dedupe(proxied, guard, prefix=redis_prefix)
    elsewhere = Dedupe(redis_client, RedisGuard(timeout=1), prefix=redis_prefix)

    redis_proxy.stall(0.5)
    assert await ping(proxied, guard) is False  # this one call was too slow
    assert guard.healthy

    assert await elsewhere.claim("Ev1")  # another replica answers this event…
    assert not await here.claim("Ev1")  # …and this one still asks Redis, so it does not


async def test_a_slow_claim_is_asked_again_and_knows_its_own_claim(
    redis_proxy: RedisProxy, proxied: aioredis.Redis, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    here = Dedupe(proxied, RedisGuard(timeout=0.1), prefix=redis_prefix)
    elsewhere = Dedupe(redis_client, RedisGuard(timeout=1), prefix=redis_prefix)

    # Another replica claimed first; this claim's reply is late: the retry sees the claim is taken.
    assert await elsewhere.claim("Ev1")
    redis_proxy.stall(0.5)
    assert not await here.claim("Ev1")

    # This claim landed but its reply was late: the retry recognises it, and this replica answers.
    redis_proxy.stall(0.5)
    assert await here.claim("Ev2")
    assert not await elsewhere.claim("Ev2")


async def test_the_breaker_opens_after_failures_in_a_row_and_probes_after_the_cooldown(
    redis_proxy: RedisProxy, proxied: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    guard = RedisGuard(timeout=0.1, threshold=3, window=10, cooldown=5, clock=clock)
    caplog.set_level(logging.INFO, logger="bot.stores.guard")
    redis_proxy.cut()

    assert not await ping(proxied, guard)
    assert not await ping(proxied, guard)
    assert guard.healthy and outage_logs(caplog) == (0, 0)  # two failures: still judged per call
    assert not await ping(proxied, guard)
    assert not guard.healthy and outage_logs(caplog) == (1, 0)  # the third opens it, said once

    attempts = redis_proxy.attempts
    for _ in range(5):
        assert not await ping(proxied, guard)  # open: no call reaches the network
    assert redis_proxy.attempts == attempts

    clock.now += 5
    assert not await ping(proxied, guard)  # the probe finds Redis still cut: open again
    assert redis_proxy.attempts > attempts and not guard.healthy
    attempts = redis_proxy.attempts
    assert not await ping(proxied, guard)
    assert redis_proxy.attempts == attempts

    redis_proxy.heal()
    clock.now += 5
    assert await ping(proxied, guard)  # the probe succeeds and closes the breaker
    assert guard.healthy and outage_logs(caplog) == (1, 1)


async def test_failures_further_apart_than_the_window_do_not_open_the_breaker(
    redis_proxy: RedisProxy, proxied: aioredis.Redis
) -> None:
    clock = Clock()
    guard = RedisGuard(timeout=0.1, threshold=3, window=10, clock=clock)
    redis_proxy.cut()
    for _ in range(5):
        assert not await ping(proxied, guard)
        assert not await ping(proxied, guard)
        clock.now += 11
    assert guard.healthy

    assert not await ping(proxied, guard)
    redis_proxy.heal()
    assert await ping(proxied, guard)  # a success resets the count
    redis_proxy.cut()
    assert not await ping(proxied, guard)
    assert not await ping(proxied, guard)
    assert guard.healthy


async def test_only_one_call_probes_while_the_breaker_is_half_open(
    redis_proxy: RedisProxy, proxied: aioredis.Redis
) -> None:
    clock = Clock()
    guard = RedisGuard(timeout=1, threshold=1, cooldown=5, clock=clock)
    redis_proxy.cut()
    assert not await ping(proxied, guard)
    assert not guard.healthy
    redis_proxy.heal()
    clock.now += 5
    redis_proxy.latency = 0.2  # the probe takes a while; calls meanwhile do not wait for it
    probe = asyncio.create_task(ping(proxied, guard))
    await asyncio.sleep(0.05)
    assert not await ping(proxied, guard)  # answered at once with its fallback
    assert await probe
    redis_proxy.latency = 0
    assert guard.healthy and await ping(proxied, guard)


async def test_a_refused_command_is_not_an_outage(
    redis_client: aioredis.Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    guard = RedisGuard(timeout=1, threshold=1)
    key = f"{redis_prefix}:a-string"
    await redis_client.set(key, "x")

    async def wrong_type() -> int:
        return int(await redis_client.hlen(key))

    with caplog.at_level(logging.WARNING, logger="bot.stores.guard"):
        assert await guard.run(wrong_type, -1, what="test") == -1
    assert guard.healthy
    assert any("refused test" in r.getMessage() for r in caplog.records)


async def test_a_cancel_that_lands_while_a_command_is_sent_is_not_lost(redis_url: str) -> None:
    # redis-py sends through asyncio.wait_for when socket_timeout is set; on Python 3.11 that
    # returns the result and drops a cancel landing as the send completes. Stop and shutdown
    # cancel answers that are often inside a Redis call, so the guard must deliver it.
    client = connect(redis_url, timeout=1.0)
    guard = RedisGuard(timeout=1.0)
    try:
        await client.ping()
        lost = 0
        for _ in range(50):
            task = asyncio.create_task(guard.run(lambda: client.get("guard:nothing"), None))
            await asyncio.sleep(0)  # the task is now inside the send
            task.cancel()
            try:
                await task
                lost += 1
            except asyncio.CancelledError:
                pass
        assert lost == 0
    finally:
        await client.aclose()


async def test_more_calls_at_once_than_connections_wait_for_one_instead_of_failing(
    redis_url: str, redis_prefix: str
) -> None:
    """A burst of answers makes more Redis calls at once than the pool holds connections: each
    waits for a free one. Failing them (redis-py's MaxConnectionsError) opened the breaker.
    Each call is a pipeline of its own, which holds a connection (single commands issued together
    would share one, `CoalescingRedis`)."""
    client = connect(redis_url, timeout=1.0, max_connections=3)
    guard = RedisGuard(timeout=1.0, threshold=1)
    key = f"{redis_prefix}:burst"

    async def incr() -> int:
        async with client.pipeline(transaction=False) as pipe:
            (count,) = await pipe.incr(key).execute()
        return int(count)

    try:
        counts = await asyncio.gather(*(guard.run(incr, -1) for _ in range(60)))
        assert sorted(counts) == list(range(1, 61)) and guard.healthy
        assert len(client.connection_pool._available_connections) <= 3  # noqa: SLF001 - no public count
    finally:
        await client.delete(key)
        await client.aclose()


async def test_a_call_that_times_out_while_redis_answers_others_does_not_count_as_an_outage(
    redis_client: aioredis.Redis,
) -> None:
    """Under a burst a call can outlast the bound waiting on the busy process, not on Redis:
    Redis answering other calls meanwhile says it is there."""
    guard = RedisGuard(timeout=0.05, threshold=1)

    async def stuck() -> None:  # waits on this process (a pool, a saturated loop), not on Redis
        await asyncio.sleep(5)

    waiting = asyncio.create_task(guard.run(stuck, "fallback"))
    await asyncio.sleep(0.02)
    assert await guard.run(lambda: redis_client.ping(), False)  # Redis answers meanwhile
    assert await waiting == "fallback" and guard.healthy

    assert await guard.run(stuck, "fallback") == "fallback"  # nothing answered meanwhile
    assert not guard.healthy
