"""The connection pool every Redis call goes through: bounded, never handing out a connection with
a reply still pending, never losing a slot to a failure. Redis is real, behind a proxy the tests
stall or cut."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard
from bot.stores.guard import connect as bot_connect
from bot.stores.pool import SlotPool
from tests.fakes.redis_proxy import RedisProxy


def connect(url: str, *, max_connections: int, timeout: float = 1.0) -> aioredis.Redis:
    """A plain client on the pool: each call takes a connection of its own (no coalescing)."""
    pool = SlotPool.from_url(
        url, max_connections=max_connections, socket_connect_timeout=timeout, decode_responses=True
    )
    return aioredis.Redis.from_pool(pool)


def counts(client: object) -> tuple[int, int]:
    pool = client.connection_pool  # type: ignore[attr-defined]
    return len(pool._available_connections), len(pool._in_use_connections)  # noqa: SLF001 - no public count


async def test_calls_beyond_the_connections_wait_and_all_get_their_own_reply(
    redis_url: str, redis_prefix: str
) -> None:
    client = connect(redis_url, max_connections=2)
    try:
        keys = [f"{redis_prefix}:k{i}" for i in range(40)]
        await asyncio.gather(*(client.set(k, k) for k in keys))
        assert await asyncio.gather(*(client.get(k) for k in keys)) == keys
        assert counts(client) == (2, 0)
    finally:
        await client.delete(*keys)
        await client.aclose()


async def test_a_call_cancelled_before_its_reply_leaves_no_reply_for_the_next_call(
    redis_proxy: RedisProxy, redis_prefix: str
) -> None:
    client = connect(redis_proxy.url, max_connections=1)
    key = f"{redis_prefix}:a"
    try:
        await client.set(key, "first")
        redis_proxy.stall(0.3)  # Redis answers; the client hears it late
        stalled = asyncio.create_task(client.get(key))
        await asyncio.sleep(0.1)
        stalled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stalled
        await client.set(key, "second")
        await asyncio.sleep(0.3)  # the stalled reply ("first") has arrived by now, on the old socket
        assert await client.get(key) == "second"
        assert counts(client) == (1, 0)
    finally:
        await client.delete(key)
        await client.aclose()


async def test_a_failed_connect_gives_its_slot_back(redis_proxy: RedisProxy, redis_prefix: str) -> None:
    client = connect(redis_proxy.url, timeout=0.2, max_connections=1)
    guard = RedisGuard(timeout=0.2, threshold=100)
    key = f"{redis_prefix}:b"
    try:
        redis_proxy.cut()
        for _ in range(3):
            assert await guard.run(lambda: client.set(key, "x"), None) is None
        redis_proxy.heal()
        assert await guard.run(lambda: client.set(key, "y"), None) is True
        assert await client.get(key) == "y"
        assert counts(client) == (1, 0)
    finally:
        await client.delete(key)
        await client.aclose()


async def test_a_connection_given_back_twice_frees_one_slot(redis_url: str) -> None:
    client = connect(redis_url, max_connections=1)
    pool = client.connection_pool
    try:
        connection = await pool.get_connection()
        await pool.release(connection)
        await pool.release(connection)  # ignored: a second slot would let two callers share it
        first = await pool.get_connection()
        second = asyncio.create_task(pool.get_connection())
        await asyncio.sleep(0.05)
        assert not second.done()  # still one connection, in use
        await pool.release(first)
        await pool.release(await second)
    finally:
        await client.aclose()


def test_the_bots_client_has_no_socket_timeout_of_its_own() -> None:
    """The guard bounds every call; redis-py's socket timeout (5 s by default) would send each
    command through asyncio.wait_for, a task per command."""
    client = bot_connect("redis://127.0.0.1:1/0", timeout=0.5)
    assert client.connection_pool.connection_kwargs["socket_timeout"] is None
    assert client.connection_pool.connection_kwargs["socket_connect_timeout"] == 0.5
