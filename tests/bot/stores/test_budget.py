"""The Redis budget: one bucket shared by two clients (two replicas), the Lua rules equal to Python's."""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.stores.budget import HEAD_SECONDS, HEAD_WAIT, Level, RedisBudget
from bot.stores.guard import RedisGuard
from bot.text import rates
from bot.text.rates import POST, UPDATE, LocalBuckets, Tier

KEY = ("T1", UPDATE, "")
TIERS = {UPDATE: Tier(60, 60, 3)}


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def second_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def budget(client: aioredis.Redis, prefix: str, clock: Clock | None = None) -> RedisBudget:
    local = LocalBuckets(tiers=TIERS, clock=clock) if clock else None
    return RedisBudget(
        client, RedisGuard(timeout=0.5), prefix=prefix, tiers=TIERS, local=local, clock_override=bool(clock)
    )


async def test_two_replicas_spend_one_burst(
    redis_client: aioredis.Redis, second_client: aioredis.Redis, redis_prefix: str
) -> None:
    one, two = budget(redis_client, redis_prefix), budget(second_client, redis_prefix)
    grants = [await b.take(KEY) for b in (one, two, one, two)]
    assert grants[:3] == [0.0, 0.0, 0.0]
    assert 0.1 < grants[3] <= 1.0  # the burst of 3 is gone for both: the 4th waits for the refill


async def test_a_429_seen_by_one_replica_holds_the_other(
    redis_client: aioredis.Redis, second_client: aioredis.Redis, redis_prefix: str
) -> None:
    one, two = budget(redis_client, redis_prefix), budget(second_client, redis_prefix)
    await one.penalize(KEY, 7.0)
    wait = await two.take(KEY)
    assert 6.5 < wait <= 7.0
    assert await two.take(("T2", UPDATE, "")) == 0.0  # another workspace is not held


async def test_the_script_follows_the_python_rules(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    clock = Clock()
    shared = budget(redis_client, redis_prefix, clock)
    mirror = LocalBuckets(tiers=TIERS, clock=clock)
    rng = random.Random(8)
    for _ in range(300):
        clock.now += rng.choice([0.0, 0.1, 0.5, 2.0, rates.PROBE_AFTER])
        if rng.random() < 0.1:
            retry = rng.choice([0.0, 1.0, 3.0])
            await shared.penalize(KEY, retry)
            mirror.penalize(KEY, retry)
        else:
            keep = rng.choice([0, 0, 1, 5])
            assert await shared.take(KEY, keep=keep) == pytest.approx(mirror.take(KEY, keep=keep), abs=1e-6)


async def test_the_script_ramps_as_python_does(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    """Heavy demand and no 429 for a while (the ramp), then 429s (its end), on both sides."""
    clock = Clock()
    shared = budget(redis_client, redis_prefix, clock)
    mirror = LocalBuckets(tiers=TIERS, clock=clock)
    rng = random.Random(11)
    highest = 0.0
    for i in range(800):  # (past the first minute: the first grant beyond the tier waits for it)
        steps = [0.0, 0.0, 0.05, 0.2, 0.5] if i < 700 else [0.0, 0.05, 0.5, 3.0, rates.RAMP_AFTER]
        clock.now += rng.choice(steps)
        if i > 700 and rng.random() < 0.05:
            await shared.penalize(KEY, 1.0)
            mirror.penalize(KEY, 1.0)
        else:
            assert await shared.take(KEY) == pytest.approx(mirror.take(KEY), abs=1e-6)
        state = mirror.state(KEY)
        highest = max(highest, state.rate if state else 0.0)
    assert highest >= TIERS[KEY[1]].rate * rates.RAMP_STEP**2  # it did ramp, then 429s lowered it
    assert state is not None and state.limited and state.rate < highest


async def test_without_redis_the_budget_is_kept_in_memory() -> None:
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.1)
    b = RedisBudget(dead, RedisGuard(timeout=0.1), prefix="x", tiers=TIERS)
    assert [await b.take(KEY) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await b.take(KEY) > 0
    await b.penalize(KEY, 4.0)
    assert 3.5 < await b.take(KEY) <= 4.0
    await dead.aclose()


async def test_catching_up_keeps_tokens_for_the_answers_of_every_replica(
    redis_client: aioredis.Redis, second_client: aioredis.Redis, redis_prefix: str
) -> None:
    tiers = {UPDATE: Tier(60, 60, 6)}
    one = RedisBudget(redis_client, RedisGuard(timeout=0.5), prefix=redis_prefix, tiers=tiers)
    two = RedisBudget(second_client, RedisGuard(timeout=0.5), prefix=redis_prefix, tiers=tiers)
    assert await one.take(KEY, holder="one", active=2) == 0.0  # 5 tokens left; replica one has 2 answers
    assert await two.take(KEY, keep=3, holder="two", active=3) > 0  # would leave 4 < 2 + 3
    assert await two.take(KEY, holder="two", active=3) == 0.0  # a final edit keeps nothing back
    assert await one.take(KEY, keep=2, holder="one", active=0) == 0.0  # one's answers ended: keep 3


async def test_levels_show_what_each_family_has_left(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    tiers = {UPDATE: Tier(60, 60, 3), POST: Tier(60, 60, 20)}
    shared = RedisBudget(redis_client, RedisGuard(timeout=0.5), prefix=redis_prefix, tiers=tiers)
    assert await shared.levels() == {UPDATE: Level(3, 1.0, 0), POST: Level(20, 1.0, 0)}  # all full
    for _ in range(3):
        assert await shared.take(("T1", UPDATE, "")) == 0
    await shared.take(("T1", POST, "C1"))
    await shared.take(("T2", POST, "C9"))
    levels = await shared.levels()
    assert levels is not None
    assert levels[UPDATE].buckets == 1 and levels[UPDATE].tokens < 2  # emptied, refilling at 1/s
    assert levels[POST].buckets == 2 and 18.5 < levels[POST].tokens < 20
    await shared.penalize(("T1", UPDATE, ""), 30.0)
    held = await shared.levels()
    assert held is not None and held[UPDATE].tokens == 0 and held[UPDATE].rate < 1.0
    assert held[POST].rate == 1.0


async def test_levels_are_unknown_while_redis_is_away() -> None:
    away = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        gone = RedisBudget(away, RedisGuard(timeout=0.2), prefix="gone", tiers=TIERS)
        assert await gone.levels() is None
    finally:
        await away.aclose()


_TAKER = """
import asyncio, sys
import redis.asyncio as aioredis
from bot.stores.budget import RedisBudget
from bot.stores.guard import RedisGuard
from bot.text.rates import STREAM, Tier

async def main() -> None:
    client = aioredis.Redis.from_url(sys.argv[1], decode_responses=True)
    tiers = {STREAM: Tier(20, 60, 20)}
    budget = RedisBudget(client, RedisGuard(timeout=2.0), prefix=sys.argv[2], tiers=tiers)
    granted = sum([await budget.take(("T1", STREAM, "")) == 0.0 for _ in range(200)])
    await client.aclose()
    print(granted)

asyncio.run(main())
"""


ROOT = Path(__file__).resolve().parents[3]


async def test_two_processes_taking_at_once_never_exceed_the_window(
    redis_url: str, redis_prefix: str
) -> None:
    """Two replicas as two processes, each asking as fast as it can: one minute's 20, in all."""
    takers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _TAKER, redis_url, redis_prefix, stdout=asyncio.subprocess.PIPE, cwd=ROOT
        )
        for _ in range(2)
    ]
    outputs = [await t.communicate() for t in takers]
    assert [t.returncode for t in takers] == [0, 0]
    grants = [int(out.decode()) for out, _ in outputs]
    assert sum(grants) == 20


async def test_the_replica_whose_head_is_further_behind_goes_first(
    redis_client: aioredis.Redis, second_client: aioredis.Redis, redis_prefix: str
) -> None:
    clock = Clock()
    tiers = {UPDATE: Tier(60, 60, 1)}
    one, two = (
        RedisBudget(
            c,
            RedisGuard(timeout=0.5),
            prefix=redis_prefix,
            tiers=tiers,
            local=LocalBuckets(tiers=tiers, clock=clock),
            clock_override=True,
        )
        for c in (redis_client, second_client)
    )
    assert await one.take(KEY) == 0.0  # the bucket of one is empty now
    assert await one.take(KEY, holder="A", behind=5.0) > 0  # A's head has waited 5 s
    clock.now += 1.0  # a token again
    assert await two.take(KEY, holder="B", behind=1.0) >= HEAD_WAIT  # B's has waited less: A first
    assert await one.take(KEY, holder="A", behind=6.0) == 0.0
    clock.now += 1.0
    assert await two.take(KEY, holder="B", behind=2.0) == 0.0  # A's next head has not asked yet
    assert await two.take(KEY, holder="B", behind=3.0) > 0  # B's next head waits for a token
    clock.now += 1.0
    assert await one.take(KEY, holder="A", behind=0.5) >= HEAD_WAIT  # B's head is further behind...
    clock.now += HEAD_SECONDS + 0.1
    assert await one.take(KEY, holder="A", behind=1.0) == 0.0  # ...but went quiet: A need not wait


async def test_the_script_probes_beyond_the_tier_as_python_does(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """Intermediate edits starving a small tier: the ramp, the wait for a cheap first probe, the
    probe and its confirmation, on both sides."""
    tiers = {UPDATE: Tier(10, 60, 10)}
    clock = Clock()
    shared = RedisBudget(
        redis_client,
        RedisGuard(timeout=0.5),
        prefix=redis_prefix,
        tiers=tiers,
        local=LocalBuckets(tiers=tiers, clock=clock),
        clock_override=True,
    )
    mirror = LocalBuckets(tiers=tiers, clock=clock)
    for _ in range(400):
        assert await shared.take(KEY, keep=1) == pytest.approx(mirror.take(KEY, keep=1), abs=1e-6)
        clock.now += 0.5
    state = mirror.state(KEY)
    assert state is not None and state.probed_at == pytest.approx(5059.5)  # the path was taken
    assert state.rate > tiers[UPDATE].rate  # and went beyond the tier once confirmed
