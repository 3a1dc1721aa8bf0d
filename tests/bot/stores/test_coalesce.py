"""Commands issued in the same turn of the event loop go to Redis as one pipeline, each keeping
its own result, error and caller. Redis is real, behind a proxy the tests stall."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from bot.stores.guard import connect
from tests.fakes.redis_proxy import RedisProxy


def connections(client: object) -> int:
    pool = client.connection_pool  # type: ignore[attr-defined]
    return len(pool._available_connections) + len(pool._in_use_connections)  # noqa: SLF001


async def test_commands_issued_together_share_one_round_trip_and_keep_their_own_results(
    redis_url: str, redis_prefix: str
) -> None:
    client = connect(redis_url, timeout=1.0)
    counter, text = f"{redis_prefix}:n", f"{redis_prefix}:s"
    try:
        await client.set(text, "a string")
        results = await asyncio.gather(
            *(client.incr(counter) for _ in range(20)), client.hset(text, "f", "v"), return_exceptions=True
        )
        assert results[:20] == list(range(1, 21))  # in the order issued
        assert isinstance(results[20], ResponseError)  # refused: that caller only
        assert connections(client) == 1  # one pipeline, so one connection, for 21 commands
    finally:
        await client.delete(counter, text)
        await client.aclose()


async def test_a_caller_that_stops_waiting_leaves_the_others_their_results(
    redis_proxy: RedisProxy, redis_prefix: str
) -> None:
    client = connect(redis_proxy.url, timeout=1.0)
    key = f"{redis_prefix}:n"
    try:
        await client.ping()
        redis_proxy.stall(0.2)
        calls = [asyncio.create_task(client.incr(key)) for _ in range(3)]
        await asyncio.sleep(0.05)
        calls[0].cancel()
        assert await asyncio.gather(*calls[1:]) == [2, 3]
        with pytest.raises(asyncio.CancelledError):
            await calls[0]
        assert await client.get(key) == "3"  # its command ran: it was already sent
    finally:
        await client.delete(key)
        await client.aclose()


async def test_a_batch_redis_does_not_answer_in_time_fails_its_callers_and_the_next_goes_on(
    redis_proxy: RedisProxy, redis_prefix: str
) -> None:
    client = connect(redis_proxy.url, timeout=0.1)  # batches may take 0.3 s
    key = f"{redis_prefix}:k"
    try:
        await client.set(key, "v")
        redis_proxy.stall(1.0)
        results = await asyncio.gather(client.get(key), client.get(key), return_exceptions=True)
        assert all(isinstance(r, TimeoutError) for r in results)
        assert await client.get(key) == "v"  # a fresh connection: the late reply is not read as this one's
    finally:
        await client.delete(key)
        await client.aclose()


async def test_closing_waits_for_a_batch_still_on_its_way(
    redis_proxy: RedisProxy, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    client = connect(redis_proxy.url, timeout=1.0, max_connections=1)
    key = f"{redis_prefix}:k"
    await client.ping()

    async def hold_the_connection() -> None:
        async with client.pipeline(transaction=False) as pipe:  # a pipeline is sent as it is
            await pipe.ping().execute()

    redis_proxy.stall(0.3)
    holding = asyncio.create_task(hold_the_connection())
    await asyncio.sleep(0.05)
    write = asyncio.create_task(client.set(key, "kept"))  # waits for the one connection
    await asyncio.sleep(0.05)
    write.cancel()  # its caller gave up; the write is still to be sent
    await client.aclose()
    assert await redis_client.get(key) == "kept"  # sent before the client closed
    await holding
    with pytest.raises(asyncio.CancelledError):
        await write
