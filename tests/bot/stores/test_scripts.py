"""Lua scripts go by SHA1, and whole only when Redis lacks them (real Redis)."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from bot.stores.guard import connect
from bot.stores.scripts import Script


async def calls(client: aioredis.Redis, command: str) -> int:
    stats = await client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_a_script_redis_lacks_is_sent_whole_once_then_called_by_its_sha(
    redis_url: str, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    client = connect(redis_url, timeout=1.0)
    # A source no other test uses: Redis cannot have it cached yet.
    script = Script(client, f"-- {uuid.uuid4().hex}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])")
    key = f"{redis_prefix}:n"
    try:
        assert await redis_client.script_exists(script.sha) == [False]
        evals = await calls(redis_client, "eval")
        # Issued together, they miss together (one pipeline) and are each sent whole once.
        counts = await asyncio.gather(*(script(keys=[key], args=[1]) for _ in range(5)))
        assert sorted(counts) == [1, 2, 3, 4, 5]
        assert await calls(redis_client, "eval") - evals == 5
        assert await redis_client.script_exists(script.sha) == [True]

        evals, by_sha = await calls(redis_client, "eval"), await calls(redis_client, "evalsha")
        assert await script(keys=[key], args=[10]) == 15
        assert await calls(redis_client, "eval") == evals
        assert await calls(redis_client, "evalsha") == by_sha + 1
    finally:
        await client.aclose()
