"""Turns in a conversation, shared by replicas, on a real redis-server: one at a time, in the
order of the questions, and never stuck behind an answer or a waiter that has gone."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.model import Conversation
from bot.stores.guard import RedisGuard
from bot.stores.turns import Turn, Turns
from tests.fakes.redis_proxy import RedisProxy

CONV = Conversation("T1", "C1", "1700000000.000100")


def turns(client: aioredis.Redis, prefix: str, **kw: float) -> Turns:
    return Turns(client, RedisGuard(timeout=1), prefix=prefix, poll_seconds=0.01, **kw)


async def take(store: Turns, order: str, *, wait: float = 5.0, waits: list[str] | None = None) -> Turn:
    def on_wait() -> None:
        if waits is not None:
            waits.append(order)

    return await store.take(store.ticket(CONV, order=order), wait_seconds=wait, on_wait=on_wait)


async def test_answers_take_turns_in_the_order_of_their_questions(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    replicas = [turns(redis_client, redis_prefix) for _ in range(3)]
    first = await take(replicas[0], "1700000000.000200")
    assert first.held and not first.waited
    finished: list[str] = []
    waits: list[str] = []

    async def answer(store: Turns, order: str) -> None:
        turn = await take(store, order, waits=waits)
        assert turn.held
        finished.append(order)
        await asyncio.sleep(0.05)
        await turn.release()

    # Asked in the order 2, 3, 4; their answers start the other way round.
    later = [
        asyncio.create_task(answer(replicas[2], "1700000000.000400")),
        asyncio.create_task(answer(replicas[1], "1700000000.000300")),
    ]
    await asyncio.sleep(0.05)
    later.append(asyncio.create_task(answer(replicas[0], "1700000000.000250")))
    await asyncio.sleep(0.1)
    assert finished == []  # all wait for the first
    await first.release()
    await asyncio.gather(*later)
    assert finished == ["1700000000.000250", "1700000000.000300", "1700000000.000400"]
    assert sorted(waits) == finished


async def test_an_earlier_question_in_line_goes_first_even_if_a_later_one_asks_for_the_turn_first(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """The first answer joins the line while its placeholder is posted; the second answer's
    placeholder was quicker, but it must not take the turn first."""
    store = turns(redis_client, redis_prefix)
    first = store.ticket(CONV, order="1700000000.000200")
    await store.join(first)
    second = asyncio.create_task(take(store, "1700000000.000300"))
    await asyncio.sleep(0.1)
    assert not second.done()
    turn = await store.take(first, wait_seconds=1, on_wait=lambda: None)
    assert turn.held and not turn.waited
    await turn.release()
    assert (await second).held


async def test_a_waiter_goes_on_after_its_wait_and_a_holder_keeps_its_turn_past_the_ttl(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = turns(redis_client, redis_prefix, hold_seconds=0.3)
    held = await take(store, "1700000000.000200")
    late = await take(store, "1700000000.000300", wait=0.5)  # 0.5 s: past the TTL, refreshed
    assert not late.held and late.waited
    await late.release()  # nothing to release
    assert held.held
    await held.release()
    assert (await take(store, "1700000000.000400", wait=0)).held


async def test_a_dead_holder_and_a_dead_waiter_do_not_block_the_conversation(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = turns(redis_client, redis_prefix, hold_seconds=0.3, alive_seconds=0.2)
    base = f"{redis_prefix}:turn:{CONV.id}"
    # A replica took the turn and died (nothing refreshes it), and another one died waiting, first in line.
    await redis_client.set(base, "dead-holder", px=300)
    await redis_client.zadd(f"{base}:queue", {"dead-waiter": 1})
    await redis_client.hset(f"{base}:alive", "dead-waiter", "0")
    turn = await take(store, "1700000000.000300", wait=3)
    assert turn.held and turn.waited
    await turn.release()
    assert await redis_client.zcard(f"{base}:queue") == 0


async def test_a_cancelled_waiter_leaves_the_queue(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    store = turns(redis_client, redis_prefix)
    held = await take(store, "1700000000.000200")
    waiting = asyncio.create_task(take(store, "1700000000.000300"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    await asyncio.wait([waiting])
    assert await redis_client.zcard(f"{redis_prefix}:turn:{CONV.id}:queue") == 0
    await held.release()

    gone = store.ticket(CONV, order="1700000000.000400")  # joined, then its placeholder failed
    await store.join(gone)
    await store.leave(gone)
    assert (await take(store, "1700000000.000500", wait=0)).held


async def test_without_redis_turns_are_granted_at_once(redis_proxy: RedisProxy, redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_proxy.url, decode_responses=True, retry=Retry(NoBackoff(), 0))
    try:
        store = turns(client, redis_prefix)
        redis_proxy.cut()
        turn = await take(store, "1700000000.000200")
        assert not turn.held and not turn.waited
        await turn.release()
    finally:
        await client.aclose()
