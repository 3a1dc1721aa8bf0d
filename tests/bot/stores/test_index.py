"""The knowledge index against a real Redis: record, edit, delete, expiry, scoping and ranking.

Every behaviour test runs on both backends: `plain` (PlainIndex, plain Redis data structures)
and `search` (SearchIndex, on a redis-server with the RediSearch module loaded; skipped, saying
how to get the module, when it is not installed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from bot.model import Conversation, StoredMessage
from bot.stores.guard import RedisGuard
from bot.stores.index import KnowledgeIndex
from bot.stores.index_plain import PlainIndex
from bot.stores.index_search import SearchIndex, escape, found_ids
from bot.stores.search_engine import command, detect

DAY = 86_400


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    kind: str
    redis: aioredis.Redis
    prefix: str
    engine: int | None
    made: list[SearchIndex] = field(default_factory=list)

    async def make(self, clock: Clock, **kw: object) -> KnowledgeIndex:
        return await self.make_on(self.redis, clock, **kw)

    async def make_on(self, redis: aioredis.Redis, clock: Clock, **kw: object) -> KnowledgeIndex:
        common = {"prefix": self.prefix, "ttl_seconds": 30 * DAY, "clock": clock, **kw}
        if self.engine is None:
            return PlainIndex(redis, RedisGuard(timeout=1.0), **common)  # type: ignore[arg-type]
        index = SearchIndex(redis, RedisGuard(timeout=1.0), engine=self.engine, **common)  # type: ignore[arg-type]
        self.made.append(index)
        await index.prepare()
        return index

    def thread_key(self, team: str, channel: str, thread: str) -> str:
        """Where the backend keeps a thread's messages."""
        kind = "kx:m:" if self.engine is None else "kxw:"
        return f"{self.prefix}:{kind}{team}:{channel}:{thread}"


@asynccontextmanager
async def opened(kind: str, url: str, prefix: str) -> AsyncIterator[Backend]:
    client = aioredis.Redis.from_url(url, decode_responses=True)
    engine = None if kind == "plain" else await detect(client)
    assert kind == "plain" or engine is not None
    backend = Backend(kind, client, prefix, engine)
    try:
        yield backend
    finally:
        for index in backend.made:
            await index.drop()
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture(params=["plain", "search"])
async def backend(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Backend]:
    url = request.getfixturevalue("redis_url" if request.param == "plain" else "search_redis_url")
    async with opened(request.param, url, redis_prefix) as backend:
        yield backend


@pytest.fixture
async def search_backend(search_redis_url: str, redis_prefix: str) -> AsyncIterator[Backend]:
    async with opened("search", search_redis_url, redis_prefix) as backend:
        yield backend


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


async def test_a_thread_is_found_by_words_from_its_replies_and_root(backend: Backend) -> None:
    index = await backend.make(Clock())
    await seed(index)
    hits = await index.search("T1", "when is the staging database password rotated?")
    assert hits[0].conversation == Conversation("T1", "COPS", "100.1")
    assert (await index.search("T1", "vault job"))[0].thread_ts == "100.1"
    assert await index.channels("T1") == ["CDEV", "COPS"]
    assert await index.search("T2", "vault") == []
    assert await index.search("T1", "the of and") == []


async def test_search_reads_only_the_channels_given(backend: Backend) -> None:
    index = await backend.make(Clock())
    await seed(index)
    hits = await index.search("T1", "staging", channels=["CDEV"])
    assert [h.channel for h in hits] == ["CDEV"]
    assert await index.search("T1", "staging", channels=[]) == []
    assert {h.channel for h in await index.search("T1", "staging", channels=["CDEV", "COPS"])} == {
        "CDEV",
        "COPS",
    }


async def test_edits_replace_and_deletions_take_back(backend: Backend) -> None:
    index = await backend.make(Clock())
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
    assert await backend.redis.exists(backend.thread_key("T1", "COPS", "100.1")) == 0
    assert (await index.search("T1", "lunch"))[0].thread_ts == "200.1"


async def test_own_answers_and_unlisted_channels_are_not_indexed(backend: Backend) -> None:
    index = await backend.make(Clock(), channels=["COPS"])
    await index.index_message(Conversation("T1", "COPS"), msg("1.1", "bananas", own=True))
    await index.index_message(Conversation("T1", "CDEV"), msg("1.2", "bananas"))
    await index.edit(Conversation("T1", "CDEV"), "1.2", "bananas")
    await index.remove(Conversation("T1", "CDEV"), "1.2")
    assert await index.search("T1", "bananas") == []
    assert not index.indexes("CDEV") and index.indexes("COPS")


async def test_threads_expire_with_the_history_ttl(backend: Backend) -> None:
    clock = Clock()
    index = await backend.make(clock)
    await seed(index)
    clock.now += 20 * DAY
    await index.index_message(Conversation("T1", "COPS", "200.1"), msg("250.1", "pizza instead", "200.1"))
    clock.now += 15 * DAY  # the password thread is 35 days quiet; the lunch thread 15
    await index.index_message(Conversation("T1", "COPS"), msg("400.1", "anything new"))  # sweeps
    assert await index.search("T1", "password") == []
    assert (await index.search("T1", "lunch"))[0].thread_ts == "200.1"
    assert await backend.redis.exists(backend.thread_key("T1", "COPS", "100.1")) == 0
    assert await backend.redis.ttl(backend.thread_key("T1", "COPS", "200.1")) > 29 * DAY


async def test_an_expired_thread_is_not_found_before_the_sweep(backend: Backend) -> None:
    clock = Clock()
    index = await backend.make(clock)
    await seed(index)
    clock.now += 31 * DAY  # no write since: nothing has swept yet
    if backend.engine is not None:  # the plain index finds it until its sweep; the engine filters
        assert await index.search("T1", "password") == []


async def test_bm25_prefers_the_focused_thread(backend: Backend) -> None:
    index = await backend.make(Clock())
    top = Conversation("T1", "C1")
    await index.index_message(top, msg("1.1", "kafka consumer lag alert fired, kafka lag is high"))
    await index.index_message(top, msg("2.1", "kafka " + "unrelated chatter about many other topics " * 20))
    for i in range(3, 30):
        await index.index_message(top, msg(f"{i}.1", f"note {i} about lag in general"))
    hits = await index.search("T1", "kafka consumer lag")
    assert hits[0].thread_ts == "1.1"
    assert len(await index.search("T1", "lag", limit=5)) == 5
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


async def test_redis_down_means_no_hits_not_an_error(backend: Backend) -> None:
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    index = await backend.make_on(dead, Clock()) if backend.engine is None else None
    if index is None:  # a SearchIndex would try to create its index first: build it without
        index = SearchIndex(dead, RedisGuard(timeout=1.0), prefix=backend.prefix, ttl_seconds=DAY, engine=2)
    await index.index_message(Conversation("T1", "C1"), msg("1.1", "hello world"))
    assert await index.search("T1", "hello") == []
    assert await index.channels("T1") == []
    await dead.aclose()


async def test_a_term_stays_while_another_message_of_the_thread_has_it(backend: Backend) -> None:
    index = await backend.make(Clock())
    thread = Conversation("T1", "C1", "1.1")
    await index.index_message(Conversation("T1", "C1"), msg("1.1", "the flaky canary test"))
    await index.index_message(thread, msg("1.2", "canary again", "1.1"))
    await index.remove(thread, "1.2")
    assert (await index.search("T1", "canary"))[0].thread_ts == "1.1"
    await index.edit(Conversation("T1", "C1"), "1.1", "the flaky test")
    assert await index.search("T1", "canary") == []
    assert (await index.search("T1", "flaky"))[0].thread_ts == "1.1"


@pytest.mark.parametrize(
    "question",
    [
        "what's the k8s-cluster's p99 (prod)?",
        'is "deploy-42" @here {broken} [again] | or ~not*?',
        "90-day rotation: 2024/05 @team:{T1}",
        "ünïcode naïve café rotation",
    ],
)
async def test_punctuation_and_query_syntax_in_questions_are_plain_words(
    backend: Backend, question: str
) -> None:
    index = await backend.make(Clock())
    await index.index_message(
        Conversation("T1", "C1"), msg("1.1", "the naïve café rotation for the k8s cluster is 90 days")
    )
    hits = await index.search("T1", question)
    assert [h.thread_ts for h in hits] in (["1.1"], [])
    assert (await index.search("T1", question + " rotation"))[0].thread_ts == "1.1"


async def test_a_message_without_words_adds_no_thread(backend: Backend) -> None:
    index = await backend.make(Clock())
    await index.index_message(Conversation("T1", "C1"), msg("1.1", "ok thanks"))
    await index.index_message(Conversation("T1", "C1"), msg("2.1", "zebra crossing"))
    await index.remove(Conversation("T1", "C1"), "1.1")
    assert await backend.redis.exists(backend.thread_key("T1", "C1", "1.1")) == 0
    assert [h.thread_ts for h in await index.search("T1", "zebra")] == ["2.1"]
    assert await index.search("T1", "zebra", limit=0) == []


# -- what only one backend has -------------------------------------------------------------------


async def test_plain_lengths_follow_deletions(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    index = PlainIndex(redis_client, RedisGuard(timeout=1.0), prefix=redis_prefix, ttl_seconds=30 * DAY)
    await seed(index)
    await index.remove(Conversation("T1", "COPS", "100.1"), "100.2")
    await index.remove(Conversation("T1", "COPS"), "100.1")
    lengths = await redis_client.hgetall(f"{redis_prefix}:kx:len:T1:COPS")
    assert set(lengths) == {"200.1", "_total"}
    assert int(lengths["_total"]) == int(lengths["200.1"])
    assert await redis_client.ttl(f"{redis_prefix}:kx:t:T1:COPS:lunch") > 30 * DAY


async def test_plain_term_frequencies_follow_each_message(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = PlainIndex(redis_client, RedisGuard(timeout=1.0), prefix=redis_prefix, ttl_seconds=30 * DAY)
    thread = Conversation("T1", "C1", "1.1")
    await index.index_message(Conversation("T1", "C1"), msg("1.1", "the flaky canary test"))
    await index.index_message(thread, msg("1.2", "canary again", "1.1"))
    key = f"{redis_prefix}:kx:t:T1:C1:canary"
    assert await redis_client.hget(key, "1.1") == "2"
    await index.remove(thread, "1.2")
    assert await redis_client.hget(key, "1.1") == "1"
    await index.edit(Conversation("T1", "C1"), "1.1", "the flaky test")
    assert await redis_client.exists(key) == 0


async def test_search_index_creation_is_idempotent_and_heals(search_backend: Backend) -> None:
    first = await search_backend.make(Clock())
    second = await search_backend.make(Clock())  # another replica: the index is there already
    await seed(first)
    assert (await second.search("T1", "vault"))[0].thread_ts == "100.1"
    assert isinstance(first, SearchIndex)
    await first.drop()  # the server lost it (a flush, a restart without persistence)
    await first.index_message(Conversation("T1", "C9"), msg("9.1", "the index comes back"))
    assert [h.thread_ts for h in await second.search("T1", "comes back")] == ["9.1"]
    await first.drop()
    assert await second.search("T1", "comes back") == []  # created again, empty, not an error
    assert await first.prune("T1") == 0
    await first.drop()
    await first.drop()  # dropping what is not there is fine


async def test_search_keys_all_carry_the_prefix(search_backend: Backend) -> None:
    index = await search_backend.make(Clock())
    await seed(index)
    assert isinstance(index, SearchIndex)
    ours = {k for p in index.key_patterns() async for k in search_backend.redis.scan_iter(match=p)}
    assert ours and all(search_backend.prefix in k for k in ours)
    doc = await search_backend.redis.hgetall(index.doc_key("T1", "COPS", "100.1"))
    assert doc["team"] == "T1" and doc["channel"] == "COPS" and "vault" in doc["body"].split()


async def test_search_counts_follow_every_write_and_sweep(search_backend: Backend) -> None:
    clock = Clock()
    index = await search_backend.make(clock)
    assert isinstance(index, SearchIndex)
    await seed(index)
    ops = Conversation("T1", "COPS", "100.1")
    await index.edit(ops, "100.2", "Every 60 days, via the rotation cron")
    await index.remove(Conversation("T1", "COPS"), "200.1")
    clock.now += 31 * DAY
    await index.index_message(Conversation("T1", "CDEV"), msg("900.1", "a fresh staging deploy"))  # sweeps
    counts = await search_backend.redis.hgetall(f"{search_backend.prefix}:kxn:T1")
    docs = [k async for k in search_backend.redis.scan_iter(match=f"{search_backend.prefix}:kxd:*")]
    bodies = [str(await search_backend.redis.hget(d, "body")).split() for d in docs]
    expected = Counter(w for body in bodies for w in set(body))
    assert int(counts.pop("_n")) == len(docs) == 1
    assert int(counts.pop("_len")) == sum(len(b) for b in bodies)
    assert {w: int(n) for w, n in counts.items()} == dict(expected)
    assert [h.thread_ts for h in await index.search("T1", "staging deploy")] == ["900.1"]


async def test_a_1x_engine_ignores_on_hash_so_the_version_is_detected_not_assumed(
    search_backend: Backend,
) -> None:
    if search_backend.engine is None or search_backend.engine >= 2:
        pytest.skip("needs an engine 1.x server")
    wrong = SearchIndex(
        search_backend.redis, RedisGuard(timeout=1.0), prefix=search_backend.prefix, ttl_seconds=DAY, engine=2
    )
    await wrong.prepare()  # RediSearch 1.2 accepts ON HASH PREFIX ... and ignores it
    await wrong.index_message(Conversation("T1", "C1"), msg("1.1", "hello world"))
    assert await wrong.search("T1", "hello") == []  # nothing indexed it
    with pytest.raises(aioredis.ResponseError):
        await wrong.drop()  # FT.DROPINDEX is 2.x
    await command(search_backend.redis, "FT.DROP", wrong.name)


# -- the search backend's own parts that need no engine (they run wherever the tests run) ---------


def plain_server_search_index(redis: aioredis.Redis, prefix: str, clock: Clock, **kw: object) -> SearchIndex:
    """Engine 2+ writes are plain HSETs (the engine indexes them by itself), so the write script
    runs, and can be checked, on a server without one."""
    return SearchIndex(
        redis, RedisGuard(timeout=1.0), prefix=prefix, ttl_seconds=30 * DAY, engine=2, clock=clock, **kw
    )  # type: ignore[arg-type]


async def test_the_write_script_keeps_words_and_counts_exact(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = plain_server_search_index(redis_client, redis_prefix, Clock(), channels=["COPS", "CDEV"])
    await seed(index)
    ops = Conversation("T1", "COPS", "100.1")
    await index.edit(ops, "100.2", "Every 60 days, via the rotation cron")
    await index.edit(ops, "999.9", "never seen")
    await index.remove(Conversation("T1", "COPS"), "200.1")
    await index.index_message(Conversation("T1", "COPS"), msg("500.1", "ok thanks"))  # no words
    await index.index_message(Conversation("T1", "CDEV"), msg("600.1", "mine", own=True))
    await index.index_message(Conversation("T1", "COTHER"), msg("700.1", "not indexed here"))
    doc = await redis_client.hgetall(index.doc_key("T1", "COPS", "100.1"))
    assert doc["team"] == "T1" and doc["channel"] == "COPS"
    assert "cron" in doc["body"].split() and "vault" not in doc["body"].split()
    docs = [k async for k in redis_client.scan_iter(match=f"{redis_prefix}:kxd:*")]
    bodies = [str(await redis_client.hget(d, "body")).split() for d in docs]
    counts = await redis_client.hgetall(f"{redis_prefix}:kxn:T1")
    assert int(counts.pop("_n")) == len(docs) == 2
    assert int(counts.pop("_len")) == sum(len(b) for b in bodies)
    assert {w: int(n) for w, n in counts.items()} == dict(Counter(w for b in bodies for w in set(b)))
    assert await index.channels("T1") == ["CDEV", "COPS"]
    await index.remove(ops, "100.2")
    await index.remove(Conversation("T1", "COPS"), "100.1")
    assert (
        await redis_client.exists(index.doc_key("T1", "COPS", "100.1"), f"{redis_prefix}:kxw:T1:COPS:100.1")
        == 0
    )
    assert await redis_client.ttl(index.doc_key("T1", "CDEV", "300.1")) > 30 * DAY


async def test_a_server_without_the_engine_gives_no_hits_not_errors(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    index = plain_server_search_index(redis_client, redis_prefix, Clock())
    await seed(index)
    assert await index.search("T1", "vault") == []  # FT.SEARCH is refused: no hits
    assert await index.search("T1", "the of and") == []
    assert await index.search("T1", "vault", channels=[]) == []
    assert await index.search("T1", "vault", limit=0) == []
    assert await index.search("T9", "vault") == []  # no counts for that team: nothing asked
    assert index.key_patterns()[0] == f"{redis_prefix}:kxd:*"
    assert (
        len(
            SearchIndex(
                redis_client, RedisGuard(timeout=1.0), prefix="p", ttl_seconds=1, engine=1
            ).key_patterns()
        )
        == 8
    )


def test_engine_replies_of_either_protocol_give_the_ids() -> None:
    assert found_ids([2, "p:kxd:T1:C1:1.1", "p:kxd:T1:C2:2.1"]) == ["p:kxd:T1:C1:1.1", "p:kxd:T1:C2:2.1"]
    assert found_ids({"total_results": 1, "results": [{"id": "p:kxd:T1:C1:1.1", "values": []}]}) == [
        "p:kxd:T1:C1:1.1"
    ]
    assert found_ids({"total_results": 0}) == []
    assert escape("T-1") == "T\\-1" and escape("k8s") == "k8s" and escape("a b{c}") == "a\\ b\\{c\\}"
