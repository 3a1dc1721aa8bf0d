"""The Regenerate throttle and the daily allowances against a real redis-server, and without one."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard
from bot.stores.quotas import DailyQuotas
from bot.stores.throttle import Throttle

DAY = 86_400


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def dead_redis() -> aioredis.Redis:
    return aioredis.Redis.from_url(
        "redis://127.0.0.1:1/0", socket_connect_timeout=0.05, decode_responses=True
    )


async def test_the_throttle_counts_per_person_per_minute(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    clock = Clock(60 * 1000 + 5)
    throttle = Throttle(
        redis_client, RedisGuard(timeout=0.5), prefix=redis_prefix, name="t", per_minute=2, clock=clock
    )
    assert [await throttle.allow("T1", "U1") for _ in range(3)] == [True, True, False]
    assert await throttle.allow("T1", "U2")
    clock.now += 60  # the next minute starts afresh
    assert await throttle.allow("T1", "U1")
    assert 0 < await redis_client.ttl(throttle.key("T1", "U1")) <= 120


async def test_without_redis_nobody_is_throttled_or_held_to_an_allowance() -> None:
    redis = dead_redis()
    try:
        throttle = Throttle(redis, RedisGuard(timeout=0.05), prefix="p", name="t", per_minute=1)
        assert [await throttle.allow("T1", "U1") for _ in range(3)] == [True, True, True]
        quotas = DailyQuotas(redis, RedisGuard(timeout=0.05), prefix="p", per_user=1, per_channel=1)
        await quotas.spend("T1", "U1", "C1", 100)
        assert await quotas.refusal("T1", "U1", "C1") is None
    finally:
        await redis.aclose()


async def test_allowances_are_per_utc_day_and_their_keys_expire(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    today = int(time.time() // DAY)
    clock = Clock(today * DAY + 23 * 3600)  # 23:00 UTC today (expiry times must lie ahead)
    quotas = DailyQuotas(
        redis_client,
        RedisGuard(timeout=0.5),
        prefix=redis_prefix,
        per_user=100,
        per_channel=None,
        clock=clock,
    )
    assert await quotas.refusal("T1", "U1", "C1") is None
    await quotas.spend("T1", "U1", "C1", 60)
    await quotas.spend("T1", "U1", "C1", 40)
    assert await quotas.refusal("T1", "U1", "C1") == (
        "You've used today's answer allowance (100 tokens); it resets at 00:00 UTC."
    )
    assert await quotas.refusal("T1", "U2", "C1") is None
    assert await quotas.refusal("T1", None, "C1") is None  # no person to hold to it
    expires = await redis_client.expiretime(quotas.user_key("T1", "U1"))
    assert expires == (today + 2) * DAY
    clock.now += 3600  # midnight: a new day, a new allowance
    assert await quotas.refusal("T1", "U1", "C1") is None


async def test_unset_allowances_cost_nothing(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    quotas = DailyQuotas(
        redis_client, RedisGuard(timeout=0.5), prefix=redis_prefix, per_user=None, per_channel=None
    )
    assert not quotas.enabled
    await quotas.spend("T1", "U1", "C1", 10**9)
    assert await quotas.refusal("T1", "U1", "C1") is None
    assert [k async for k in redis_client.scan_iter(match=f"{redis_prefix}:*")] == []
    only_users = DailyQuotas(
        redis_client, RedisGuard(timeout=0.5), prefix=redis_prefix, per_user=5, per_channel=None
    )
    await only_users.spend("T1", None, "C1", 10)  # another app's question: nobody to charge
    await only_users.spend("T1", "U1", "C1", 0)
    assert [k async for k in redis_client.scan_iter(match=f"{redis_prefix}:*")] == []
