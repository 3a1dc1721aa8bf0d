"""The Stop registry across replicas, on a real Redis: requests that arrive while a replica is not
listening, registrations kept alive, and Redis out of reach. Each registry stands for a replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.core.stop import StopOutcome, StopRegistry
from bot.stores.guard import RedisGuard
from bot.stores.stop_signals import StopSignals
from tests.fakes.redis_proxy import RedisProxy


@pytest.fixture
async def proxied(redis_proxy: RedisProxy) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_proxy.url, decode_responses=True, retry=Retry(NoBackoff(), 0))
    try:
        yield client
    finally:
        await client.aclose()


def registry(client: aioredis.Redis, prefix: str, **kw: float) -> StopRegistry:
    ttl = int(kw.pop("ttl", 60))
    signals = StopSignals(
        client, RedisGuard(timeout=0.3, threshold=1, cooldown=0.05), prefix=prefix, ttl_seconds=ttl
    )
    return StopRegistry(signals, admin_users=("U9",), retry_seconds=0.05, **kw)


async def forever() -> None:
    await asyncio.Event().wait()


async def wait_cancelled(task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(3):
        await asyncio.wait([task])
    assert task.cancelled()


async def test_a_request_published_while_the_streaming_replica_was_cut_off_reaches_it_after(
    redis_proxy: RedisProxy, proxied: aioredis.Redis, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    streaming = registry(proxied, redis_prefix)
    pressed = registry(redis_client, redis_prefix)
    task = asyncio.create_task(forever())
    await streaming.register("a1", task, "U1")
    redis_proxy.cut()  # the streaming replica loses Redis, and its subscription with it
    assert await pressed.stop("a1", "U1", is_admin=False) is StopOutcome.STOPPED
    await asyncio.sleep(0.1)
    assert not task.done()  # the request could not reach it…
    redis_proxy.heal()
    await wait_cancelled(task)  # …until it listened again and read what it had missed
    assert streaming.stopped_by("a1") == "U1"
    await streaming.unregister("a1")
    assert await pressed.stop("a1", "U1", is_admin=False) is StopOutcome.NOT_RUNNING


async def test_registrations_are_kept_alive_while_streaming_and_expire_without_their_replica(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    streaming = registry(redis_client, redis_prefix, ttl=1, refresh_seconds=0.2)
    pressed = registry(redis_client, redis_prefix)
    task = asyncio.create_task(forever())
    await streaming.register("a1", task, "U1")
    await asyncio.sleep(1.5)  # past the TTL: refreshed meanwhile
    assert await pressed.stop("a1", "U2", is_admin=False) is StopOutcome.NOT_ALLOWED
    assert await pressed.stop("a1", "U9", is_admin=False) is StopOutcome.STOPPED  # one of ADMIN_USERS
    await wait_cancelled(task)
    assert streaming.stopped_by("a1") == "U9"
    await streaming.unregister("a1")

    # A replica that died leaves its registration behind only until the TTL.
    await redis_client.hset(f"{redis_prefix}:run:a2", "asker", "U1")
    await redis_client.expire(f"{redis_prefix}:run:a2", 1)
    await asyncio.sleep(1.1)
    assert await pressed.stop("a2", "U1", is_admin=False) is StopOutcome.NOT_RUNNING


async def test_a_press_for_an_answer_elsewhere_says_so_when_redis_is_out_of_reach(
    redis_proxy: RedisProxy, proxied: aioredis.Redis, redis_prefix: str
) -> None:
    here = registry(proxied, redis_prefix)
    redis_proxy.cut()
    assert await here.stop("elsewhere", "U1", is_admin=True) is StopOutcome.UNREACHABLE

    # An answer streaming on this replica is stopped here, Redis or not.
    task = asyncio.create_task(forever())
    await here.register("a1", task, "U1")
    assert await here.stop("a1", "U2", is_admin=False) is StopOutcome.NOT_ALLOWED
    assert await here.stop("a1", "U1", is_admin=False) is StopOutcome.STOPPED
    await wait_cancelled(task)
    assert await here.stop("a1", "U1", is_admin=False) is StopOutcome.NOT_RUNNING
    await here.unregister("a1")
