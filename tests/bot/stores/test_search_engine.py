"""Choosing the knowledge index's backend: the Query Engine found (or not) on a real server,
by MODULE LIST or, where that is refused, by asking the engine; and KNOWLEDGE_INDEX obeyed."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis

from bot.errors import ConfigError
from bot.stores.search_engine import choose, detect


@asynccontextmanager
async def without_module_list(url: str) -> AsyncIterator[aioredis.Redis]:
    """A client whose user may not run MODULE (as on some managed Redis services)."""
    admin = aioredis.Redis.from_url(url, decode_responses=True)
    user = f"kx-{uuid.uuid4().hex[:8]}"
    await admin.acl_setuser(user, enabled=True, nopass=True, commands=["+@all", "-module"], keys=["*"])
    client = aioredis.Redis.from_url(url, decode_responses=True, username=user)
    try:
        yield client
    finally:
        await client.aclose()
        await admin.acl_deluser(user)
        await admin.aclose()


async def test_plain_redis_has_no_engine(redis_client: aioredis.Redis, redis_url: str) -> None:
    assert await detect(redis_client) is None
    async with without_module_list(redis_url) as refused:
        assert await detect(refused) is None


async def test_the_engine_is_found_by_module_list_or_by_asking_it(search_redis_url: str) -> None:
    client = aioredis.Redis.from_url(search_redis_url, decode_responses=True)
    found = await detect(client)
    await client.aclose()
    assert found is not None and found >= 1
    async with without_module_list(search_redis_url) as refused:
        with pytest.raises(aioredis.ResponseError):
            await refused.execute_command("MODULE", "LIST")  # type: ignore[no-untyped-call]
        assert await detect(refused) == found


async def test_auto_and_redis_and_search_on_each_server(
    redis_client: aioredis.Redis, search_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = aioredis.Redis.from_url(search_redis_url, decode_responses=True)
    with caplog.at_level(logging.INFO, logger="bot.stores.search_engine"):
        assert await choose(redis_client, "auto") is None
        assert await choose(redis_client, "redis") is None
        assert await choose(engine, "redis") is None
        found = await choose(engine, "auto")
        assert found is not None and await choose(engine, "search") == found
    await engine.aclose()
    said = [r.getMessage() for r in caplog.records]
    assert any("no Query Engine on this server" in line for line in said)
    assert any(f"Query Engine {found}.x (KNOWLEDGE_INDEX=auto)" in line for line in said)


async def test_search_without_the_engine_stops_start_up(redis_client: aioredis.Redis) -> None:
    with pytest.raises(ConfigError) as caught:
        await choose(redis_client, "search")
    assert caught.value.name == "KNOWLEDGE_INDEX" and "no Query Engine" in str(caught.value)


async def test_an_unreachable_redis_leaves_auto_plain_and_search_trusted() -> None:
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    assert await choose(dead, "auto") is None
    assert await choose(dead, "search") == 2
    await dead.aclose()
