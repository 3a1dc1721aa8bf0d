"""Deduplication between replicas, on a real redis-server reached through a network that can misbehave."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from bot.stores.dedupe import Dedupe
from bot.stores.guard import RedisGuard, connect
from tests.fakes.redis_proxy import RedisProxy


async def replica(proxy: RedisProxy, prefix: str, stack: list[aioredis.Redis]) -> Dedupe:
    client = connect(proxy.url, timeout=2)
    stack.append(client)
    await client.ping()  # connected before the race starts
    return Dedupe(client, RedisGuard(timeout=2), prefix=prefix)


async def test_two_replicas_claiming_the_same_names_make_exactly_one_winner(
    redis_proxy: RedisProxy, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    """Slack delivers a mention as `app_mention` and as `message`, each naming the event and the
    message; on a slow network two replicas' claims interleave. Exactly one of them must answer:
    not both, and not neither."""
    proxy = redis_proxy
    clients: list[aioredis.Redis] = []
    try:
        first = await replica(proxy, redis_prefix, clients)
        second = await replica(proxy, redis_prefix, clients)
        proxy.chunk, proxy.chunk_delay = 16, 0.002  # each claim reaches Redis in several pieces
        for i in range(5):
            event, message = f"Ev{i}", f"answer:T1:C1:1700000000.{i:06d}"
            wins = await asyncio.gather(first.claim(event, message), second.claim(message, event))
            assert sorted(wins) == [False, True], f"round {i}: {wins}"
    finally:
        for client in clients:
            await client.aclose()


async def test_a_claim_names_every_key_with_the_ttl(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    dedupe = Dedupe(redis_client, RedisGuard(timeout=1), prefix=redis_prefix)
    assert await dedupe.claim("Ev1", "answer:T1:C1:1.000001", ttl=120)
    for name in ("Ev1", "answer:T1:C1:1.000001"):
        assert 0 < await redis_client.ttl(f"{redis_prefix}:event:{name}") <= 120
    other = Dedupe(redis_client, RedisGuard(timeout=1), prefix=redis_prefix)
    assert not await other.claim("Ev2", "answer:T1:C1:1.000001")  # the message was claimed
    assert await redis_client.exists(f"{redis_prefix}:event:Ev2")  # claimed either way
