"""Votes on answers against a real redis-server: once per person, however fast the clicks come."""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as aioredis

from bot.model import ChatReplay, Conversation, StoredMessage
from bot.stores.answers import AnswerRecord
from bot.stores.feedback import Feedback
from bot.stores.guard import RedisGuard

RECORD = AnswerRecord(
    answer_id="a1",
    team="T1",
    channel="C1",
    asker="U1",
    replay=ChatReplay(
        Conversation("T1", "C1", "1.000001"), StoredMessage("1.000001", "q?", "U1"), "1.000001"
    ),
    model="grok-4.3",
    latency_ms=120,
)


async def test_a_burst_of_identical_votes_counts_once(redis_url: str, redis_prefix: str) -> None:
    # Separate clients, as replicas (or one replica's connection pool) would send a double click.
    clients = [aioredis.Redis.from_url(redis_url, decode_responses=True) for _ in range(10)]
    try:
        stores = [Feedback(c, RedisGuard(timeout=2), prefix=redis_prefix, ttl_seconds=60) for c in clients]
        results = await asyncio.gather(*(s.vote(RECORD, "U2", "up") for s in stores for _ in range(3)))
        assert results.count(True) == 1
        assert await stores[0].counts("T1") == {"up": 1, "down": 0}
        log = await clients[0].lrange(stores[0].log_key("T1"), 0, -1)
        assert [json.loads(e)["vote"] for e in log] == ["up"]
    finally:
        for client in clients:
            await client.aclose()


async def test_a_changed_vote_moves_the_count(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    feedback = Feedback(redis_client, RedisGuard(timeout=2), prefix=redis_prefix, ttl_seconds=60)
    assert await feedback.vote(RECORD, "U2", "up")
    assert await feedback.vote(RECORD, "U3", "up")
    assert await feedback.vote(RECORD, "U2", "down")
    assert not await feedback.vote(RECORD, "U2", "down")
    assert await feedback.counts("T1") == {"up": 1, "down": 1}
    assert await redis_client.hgetall(feedback.votes_key("a1")) == {"U2": "down", "U3": "up"}
    assert 0 < await redis_client.ttl(feedback.votes_key("a1")) <= 60
    entries = [json.loads(e) for e in await redis_client.lrange(feedback.log_key("T1"), 0, -1)]
    assert [(e["user"], e["vote"]) for e in reversed(entries)] == [("U2", "up"), ("U3", "up"), ("U2", "down")]
    assert (
        entries[0]["channel"] == "C1"
        and entries[0]["model"] == "grok-4.3"
        and entries[0]["latency_ms"] == 120
    )
