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


class Registries:
    """Makes registries, each standing for a replica, and closes them all after the test."""

    def __init__(self) -> None:
        self.made: list[StopRegistry] = []

    def __call__(self, client: aioredis.Redis, prefix: str, **kw: float) -> StopRegistry:
        ttl = int(kw.pop("ttl", 60))
        signals = StopSignals(
            client, RedisGuard(timeout=0.3, threshold=1, cooldown=0.05), prefix=prefix, ttl_seconds=ttl
        )
        self.made.append(StopRegistry(signals, admin_users=("U9",), retry_seconds=0.05, **kw))
        return self.made[-1]


@pytest.fixture
async def registry() -> AsyncIterator[Registries]:
    registries = Registries()
    yield registries
    for made in registries.made:
        await made.close()


async def forever() -> None:
    await asyncio.Event().wait()


async def wait_cancelled(task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(3):
        await asyncio.wait([task])
    assert task.cancelled()


async def test_a_request_published_while_the_streaming_replica_was_cut_off_reaches_it_after(
    redis_proxy: RedisProxy,
    proxied: aioredis.Redis,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    registry: Registries,
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
    redis_client: aioredis.Redis, redis_prefix: str, registry: Registries
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
    redis_proxy: RedisProxy, proxied: aioredis.Redis, redis_prefix: str, registry: Registries
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


async def subscribers(client: aioredis.Redis, prefix: str) -> int:
    ((_, count),) = await client.pubsub_numsub(f"{prefix}:stops")
    return int(count)


async def until_subscribers(client: aioredis.Redis, prefix: str, count: int) -> None:
    async with asyncio.timeout(3):
        while await subscribers(client, prefix) != count:  # noqa: ASYNC110 - Redis signals nothing
            await asyncio.sleep(0.01)


async def test_the_listener_stays_for_the_next_answer_then_leaves_after_its_linger(
    redis_client: aioredis.Redis, redis_prefix: str, registry: Registries
) -> None:
    streaming = registry(redis_client, redis_prefix, linger_seconds=0.5)
    pressed = registry(redis_client, redis_prefix)
    first = asyncio.create_task(forever())
    await streaming.register("a1", first, "U1")
    await until_subscribers(redis_client, redis_prefix, 1)
    first.cancel()
    await streaming.unregister("a1")
    await asyncio.sleep(0.2)
    assert await subscribers(redis_client, redis_prefix) == 1  # still there for the next answer

    # The next answer, within the linger, is stopped from the other replica over that listener.
    second = asyncio.create_task(forever())
    await streaming.register("a2", second, "U1")
    await asyncio.sleep(0.4)  # past the first linger: the running answer keeps it
    assert await subscribers(redis_client, redis_prefix) == 1
    assert await pressed.stop("a2", "U1", is_admin=False) is StopOutcome.STOPPED
    await wait_cancelled(second)
    await streaming.unregister("a2")

    await until_subscribers(redis_client, redis_prefix, 0)  # then nobody streams here: it leaves
    assert not streaming.listening


async def test_close_ends_a_lingering_listener(
    redis_client: aioredis.Redis, redis_prefix: str, registry: Registries
) -> None:
    streaming = registry(redis_client, redis_prefix, linger_seconds=60)
    task = asyncio.create_task(forever())
    await streaming.register("a1", task, "U1")
    task.cancel()
    await streaming.unregister("a1")
    assert streaming.listening
    await streaming.close()
    assert not streaming.listening
    await until_subscribers(redis_client, redis_prefix, 0)
