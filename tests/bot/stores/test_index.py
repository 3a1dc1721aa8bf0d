"""The knowledge index against a real Redis: record, edit, delete, expiry, scoping and ranking."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.model import Conversation, StoredMessage
from bot.stores.guard import RedisGuard
from bot.stores.index import KnowledgeIndex

DAY = 86_400


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make(redis: aioredis.Redis, prefix: str, clock: Clock, **kw: object) -> KnowledgeIndex:
    return KnowledgeIndex(
        redis,
        RedisGuard(timeout=1.0),
        prefix=prefix,
        ttl_seconds=30 * DAY,
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


def msg(ts: str, text: str, thread_ts: str | None = None, **kw: object) -> StoredMessage:
    return StoredMessage(ts=ts, text=text, user="U1", thread_ts=thread_ts, **kw)  # type: ignore[arg-type]


async def seed(index: KnowledgeIndex) -> None:
    ops = Conversation("T1", "COPS", "100.1")
    await index.index_message(
        Conversation("T1", "COPS"), msg("100.1", "How often do we rotate the staging db password?")
    )
    await index.index_message(ops, msg("100.2", "Every 90 days, the vault job rotates it", "100.1"))
    await index.index_message(Conversation("T1", "COPS"), msg("200.1", "lunch is at noon today"))
    await index.index_message(Conversation("T1", "CDEV"), msg("300.1", "the staging deploy is broken again"))


async def test_a_thread_is_found_by_words_from_its_replies_and_root(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = make(redis_client, redis_prefix, Clock())
    await seed(index)
    hits = await index.search("T1", "when is the staging database password rotated?")
    assert hits[0].conversation == Conversation("T1", "COPS", "100.1")
    assert (await index.search("T1", "vault job"))[0].thread_ts == "100.1"
    assert await index.channels("T1") == ["CDEV", "COPS"]
    assert await index.search("T2", "vault") == []
    assert await index.search("T1", "the of and") == []


async def test_search_reads_only_the_channels_given(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    index = make(redis_client, redis_prefix, Clock())
    await seed(index)
    hits = await index.search("T1", "staging", channels=["CDEV"])
    assert [h.channel for h in hits] == ["CDEV"]
    assert await index.search("T1", "staging", channels=[]) == []


async def test_edits_replace_and_deletions_take_back(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    index = make(redis_client, redis_prefix, Clock())
    await seed(index)
    ops = Conversation("T1", "COPS", "100.1")
    await index.edit(ops, "100.2", "Every 60 days, via the rotation cron")
    assert await index.search("T1", "vault") == []
    assert (await index.search("T1", "cron"))[0].thread_ts == "100.1"
    await index.edit(ops, "999.9", "an edit of a message never seen is ignored zebra")
    assert await index.search("T1", "zebra") == []
    await index.remove(ops, "100.2")
    assert await index.search("T1", "cron") == []
    assert await index.search("T1", "password")  # the root is still there
    await index.remove(Conversation("T1", "COPS"), "100.1")
    assert await index.search("T1", "password") == []
    lengths = await redis_client.hgetall(f"{redis_prefix}:kx:len:T1:COPS")
    assert set(lengths) == {"200.1", "_total"}
    assert int(lengths["_total"]) == int(lengths["200.1"])


async def test_own_answers_and_unlisted_channels_are_not_indexed(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = make(redis_client, redis_prefix, Clock(), channels=["COPS"])
    await index.index_message(Conversation("T1", "COPS"), msg("1.1", "bananas", own=True))
    await index.index_message(Conversation("T1", "CDEV"), msg("1.2", "bananas"))
    await index.edit(Conversation("T1", "CDEV"), "1.2", "bananas")
    await index.remove(Conversation("T1", "CDEV"), "1.2")
    assert await index.search("T1", "bananas") == []
    assert not index.indexes("CDEV") and index.indexes("COPS")


async def test_threads_expire_with_the_history_ttl(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    clock = Clock()
    index = make(redis_client, redis_prefix, clock)
    await seed(index)
    clock.now += 20 * DAY
    await index.index_message(Conversation("T1", "COPS", "200.1"), msg("250.1", "pizza instead", "200.1"))
    clock.now += 15 * DAY  # the password thread is 35 days quiet; the lunch thread 15
    await index.index_message(Conversation("T1", "COPS"), msg("400.1", "anything new"))  # sweeps
    assert await index.search("T1", "password") == []
    assert (await index.search("T1", "lunch"))[0].thread_ts == "200.1"
    assert await redis_client.exists(f"{redis_prefix}:kx:m:T1:COPS:100.1") == 0
    assert await redis_client.ttl(f"{redis_prefix}:kx:t:T1:COPS:lunch") > 30 * DAY


async def test_bm25_prefers_the_focused_thread(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    index = make(redis_client, redis_prefix, Clock())
    top = Conversation("T1", "C1")
    await index.index_message(top, msg("1.1", "kafka consumer lag alert fired, kafka lag is high"))
    await index.index_message(top, msg("2.1", "kafka " + "unrelated chatter about many other topics " * 20))
    for i in range(3, 30):
        await index.index_message(top, msg(f"{i}.1", f"note {i} about lag in general"))
    hits = await index.search("T1", "kafka consumer lag")
    assert hits[0].thread_ts == "1.1"
    assert len(await index.search("T1", "lag", limit=5)) == 5


async def test_redis_down_means_no_hits_not_an_error(redis_prefix: str) -> None:
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    index = make(dead, redis_prefix, Clock())
    await index.index_message(Conversation("T1", "C1"), msg("1.1", "hello world"))
    assert await index.search("T1", "hello") == []
    await dead.aclose()


async def test_a_term_stays_while_another_message_of_the_thread_has_it(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = make(redis_client, redis_prefix, Clock())
    thread = Conversation("T1", "C1", "1.1")
    await index.index_message(Conversation("T1", "C1"), msg("1.1", "the flaky canary test"))
    await index.index_message(thread, msg("1.2", "canary again", "1.1"))
    key = f"{redis_prefix}:kx:t:T1:C1:canary"
    assert await redis_client.hget(key, "1.1") == "2"
    await index.remove(thread, "1.2")
    assert await redis_client.hget(key, "1.1") == "1"
    await index.edit(Conversation("T1", "C1"), "1.1", "the flaky test")
    assert await redis_client.exists(key) == 0
    assert (await index.search("T1", "flaky"))[0].thread_ts == "1.1"
