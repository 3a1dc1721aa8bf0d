"""Backfill state and pace shared by replicas, on a real redis-server."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from bot.stores.backfill import DONE_TTL_SECONDS, BackfillState, BackfillStore
from bot.stores.guard import RedisGuard


def store(redis_client: aioredis.Redis, prefix: str) -> BackfillStore:
    return BackfillStore(redis_client, RedisGuard(timeout=1), prefix=prefix)


async def test_slots_are_shared_by_every_caller_of_one_method(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a, b = store(redis_client, redis_prefix), store(redis_client, redis_prefix)
    waits = sorted(
        await asyncio.gather(*(s.wait_for_slot("T1", "conversations.history", 10.0) for s in (a, b, a)))
    )
    assert waits[0] == pytest.approx(0, abs=0.05)
    assert waits[1] == pytest.approx(10, abs=0.1) and waits[2] == pytest.approx(20, abs=0.1)
    # Another method, or another workspace, has its own pace.
    assert await a.wait_for_slot("T1", "conversations.replies", 10.0) == pytest.approx(0, abs=0.05)
    assert await a.wait_for_slot("T2", "conversations.history", 10.0) == pytest.approx(0, abs=0.05)


async def test_a_job_s_state_queue_and_ending(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    s = store(redis_client, redis_prefix)
    assert await s.state("T1", "C1") is None
    await s.save("T1", "C1", BackfillState("history", "100.0", "cur1"))
    await s.queue_threads("T1", "C1", ["1.1", "2.2"])
    assert await s.unfinished() == [("T1", "C1")]
    assert await s.state("T1", "C1") == BackfillState("history", "100.0", "cur1", "")
    assert await s.next_thread("T1", "C1") == "1.1"
    await s.thread_done("T1", "C1")
    assert await s.next_thread("T1", "C1") == "2.2"
    await s.save("T1", "C1", BackfillState("done", "100.0"))
    assert await s.unfinished() == [] and await s.next_thread("T1", "C1") is None
    assert 0 < await redis_client.ttl(f"{redis_prefix}:bf:T1:C1") <= DONE_TTL_SECONDS
    await s.save("T1", "C2", BackfillState("replies", "1.0"))
    await s.forget("T1", "C2")
    assert await s.state("T1", "C2") is None and await s.unfinished() == []
