"""Locks shared by replicas, on a real redis-server."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.stores.guard import RedisGuard
from bot.stores.locks import Lease, Locks
from tests.fakes.redis_proxy import RedisProxy


async def test_a_lock_is_held_by_one_and_released_only_by_its_holder(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    one = Locks(redis_client, RedisGuard(timeout=1), prefix=redis_prefix)
    other = Locks(redis_client, RedisGuard(timeout=1), prefix=redis_prefix)
    leases = await asyncio.gather(*(lock.acquire("job", ttl_seconds=5) for lock in (one, other) * 5))
    held = [lease for lease in leases if lease is not None]
    assert len(held) == 1 and held[0].token is not None
    assert await other.held("job")

    await other.release(Lease(held[0].key, "not-the-token"))
    assert await one.held("job")  # a wrong token releases nothing
    assert await one.refresh(held[0], ttl_seconds=30)
    assert 5 < await redis_client.pttl(one.key("job")) <= 30_000
    await one.release(held[0])
    assert not await one.held("job")
    assert not await one.refresh(held[0], ttl_seconds=30)  # not ours any more


async def test_a_lock_lapses_after_its_ttl_and_waiting_for_it_is_bounded(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    locks = Locks(redis_client, RedisGuard(timeout=1), prefix=redis_prefix)
    assert await locks.acquire("job", ttl_seconds=0.3) is not None
    assert await locks.acquire("job", ttl_seconds=0.3) is None
    assert not await locks.wait_released("job", seconds=0.05, poll=0.01)
    assert await locks.wait_released("job", seconds=2, poll=0.01)  # its holder never released it
    assert await locks.acquire("job", ttl_seconds=0.3) is not None


async def test_without_redis_a_lock_is_granted_but_not_held(
    redis_proxy: RedisProxy, redis_prefix: str
) -> None:
    client = aioredis.Redis.from_url(redis_proxy.url, decode_responses=True, retry=Retry(NoBackoff(), 0))
    try:
        locks = Locks(client, RedisGuard(timeout=0.2), prefix=redis_prefix)
        redis_proxy.cut()
        lease = await locks.acquire("job", ttl_seconds=5)
        assert lease is not None and lease.token is None
        assert await locks.refresh(lease, ttl_seconds=5)
        await locks.release(lease)
        assert not await locks.held("job")
    finally:
        await client.aclose()
