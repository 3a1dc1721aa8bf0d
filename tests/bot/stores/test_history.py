"""The history store against a real redis-server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.model import Conversation, FileRef, StoredMessage, ts_key
from bot.stores.dedupe import Dedupe
from bot.stores.guard import RedisGuard, connect
from bot.stores.history import HistoryStore
from bot.stores.names import NameCache
from bot.stores.threads import ActiveThreads
from bot.wiring.embedded_redis import EmbeddedRedis

CONV = Conversation("T1", "C1", "100.000001")


def make_store(client: aioredis.Redis, prefix: str, **kw: int) -> HistoryStore:
    return HistoryStore(
        client,
        RedisGuard(timeout=0.2),
        prefix=prefix,
        max_messages=kw.get("max_messages", 50),
        ttl_seconds=kw.get("ttl", 3600),
    )


def msg(ts: str, text: str = "hi", **kw: object) -> StoredMessage:
    return StoredMessage(ts=ts, text=text, **kw)  # type: ignore[arg-type]


def test_ts_key_orders_numerically_not_lexically() -> None:
    assert sorted(["10.000002", "9.999999", "10.000010"], key=ts_key) == [
        "9.999999",
        "10.000002",
        "10.000010",
    ]


async def test_thread_includes_root_from_top_level_in_order(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = make_store(redis_client, redis_prefix)
    await store.record(CONV.top_level, msg("100.000001", "root", user="U1"))
    await store.record(CONV, msg("100.000300", "second", user="U2", thread_ts=CONV.thread_ts))
    await store.record(CONV, msg("100.000020", "first", user="U1", thread_ts=CONV.thread_ts))
    snapshot = await store.load(CONV)
    assert snapshot is not None
    assert [m.text for m in snapshot.messages] == ["root", "first", "second"]
    assert snapshot.known


async def test_unknown_thread_is_not_known_until_backfilled(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = make_store(redis_client, redis_prefix)
    snapshot = await store.load(CONV)
    assert snapshot is not None and snapshot.messages == [] and not snapshot.known
    await store.mark_backfilled(CONV)
    snapshot = await store.load(CONV)
    assert snapshot is not None and snapshot.known


async def test_edit_and_delete_update_the_record(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    store = make_store(redis_client, redis_prefix)
    await store.record(CONV, msg("100.000002", "tpyo", user="U1"))
    await store.record(CONV, msg("100.000003", "gone", user="U1"))
    await store.edit(CONV, "100.000002", "typo")
    await store.edit(CONV, "999.000000", "never recorded")  # ignored, not created
    await store.delete(CONV, "100.000003")
    snapshot = await store.load(CONV)
    assert snapshot is not None
    assert [(m.ts, m.text, m.user) for m in snapshot.messages] == [("100.000002", "typo", "U1")]


async def test_files_are_kept_with_the_message_and_an_edit_replaces_them(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = make_store(redis_client, redis_prefix)
    log = FileRef(
        id="F1",
        name="crash.log",
        filetype="text",
        mimetype="text/plain",
        pretty_type="Plain Text",
        size=10,
        url="https://files.slack.com/files-pri/T1-F1/crash.log",
        mode="hosted",
        access="visible",
        alt="",
    )
    chart = FileRef(id="F2", name="c.png", mimetype="image/png", alt="Q3 sales")
    await store.record(CONV, msg("100.000002", "see log", user="U1", files=(log,)))
    await store.record(CONV, msg("100.000003", "see chart", user="U1", files=(chart,)))
    await store.edit(CONV, "100.000002", "see the log")  # text only: the files stay
    await store.edit(CONV, "100.000003", "no chart after all", ())  # the edit removed it
    snapshot = await store.load(CONV)
    assert snapshot is not None
    assert [(m.text, m.files) for m in snapshot.messages] == [
        ("see the log", (log,)),
        ("no chart after all", ()),
    ]
    assert '"files"' not in msg("1.000001").dumps()


async def test_history_is_capped_to_newest_and_expires(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = make_store(redis_client, redis_prefix, max_messages=10, ttl=120)
    for i in range(40):
        await store.record(CONV, msg(f"200.{i:06d}", f"m{i}"))
    snapshot = await store.load(CONV)
    assert snapshot is not None
    texts = [m.text for m in snapshot.messages]
    assert len(texts) <= 20 and texts[-1] == "m39"
    assert texts == [f"m{i}" for i in range(40 - len(texts), 40)]
    ttl = await redis_client.ttl(store.messages_key(CONV))
    assert 0 < ttl <= 120


async def test_claim_is_true_once_across_processes(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    first = Dedupe(redis_client, RedisGuard(timeout=0.2), prefix=redis_prefix)
    second = Dedupe(redis_client, RedisGuard(timeout=0.2), prefix=redis_prefix)
    assert await first.claim("Ev1")
    assert not await first.claim("Ev1")  # same process
    assert not await second.claim("Ev1")  # another process, through Redis
    assert await second.claim("Ev2")


async def test_active_threads_and_name_cache(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    guard = RedisGuard(timeout=0.2)
    threads = ActiveThreads(redis_client, guard, prefix=redis_prefix, ttl_seconds=60)
    assert not await threads.is_active(CONV)
    await threads.mark(CONV)
    assert await threads.is_active(CONV)
    names = NameCache(redis_client, guard, prefix=redis_prefix)
    await names.put("T1", {"U1": "Ada"})
    assert await names.get("T1", ["U1", "U2"]) == {"U1": "Ada"}


async def test_store_survives_redis_outage_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = EmbeddedRedis(tmp_path / "r", persistent=False)
    url = await server.start()
    client = connect(url, timeout=0.2)
    guard = RedisGuard(timeout=0.2, cooldown=0.05)
    store = HistoryStore(client, guard, prefix="p", max_messages=50, ttl_seconds=60)
    dedupe = Dedupe(client, guard, prefix="p")
    threads = ActiveThreads(client, guard, prefix="p", ttl_seconds=60)
    try:
        await store.record(CONV, msg("1.000001", "before"))
        await server.stop()
        with caplog.at_level(logging.WARNING, logger="bot.stores.guard"):
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert await store.load(CONV) is None  # unavailable: callers fall back to Slack
            assert await dedupe.claim("Ev-down")  # dedupe degrades to this process only
            assert not await dedupe.claim("Ev-down")
            await store.record(CONV, msg("1.000002", "lost"))
            assert not await threads.is_active(CONV)
            assert loop.time() - started < 2.0
        outage_logs = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(outage_logs) == 1  # said once, not per call

        await server.start()
        await asyncio.sleep(0.06)  # past the cool-down
        await store.record(CONV, msg("1.000003", "after"))
        snapshot = await store.load(CONV)
        assert snapshot is not None
        assert [m.text for m in snapshot.messages] == ["after"]  # non-persistent server restarted empty
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        await client.aclose()
        await server.stop()


async def test_a_long_message_is_trimmed_with_a_marker_before_it_reaches_redis(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = HistoryStore(
        redis_client,
        RedisGuard(timeout=0.2),
        prefix=redis_prefix,
        max_messages=50,
        ttl_seconds=3600,
        max_message_chars=1000,
    )
    text = "head " + "x" * 5000 + " tail"
    await store.record(CONV, msg("100.000002", text, user="U1"))
    await store.record(CONV, msg("100.000003", "short", user="U2"))
    await store.edit(CONV, "100.000003", "edited " + "y" * 3000)
    snapshot = await store.load(CONV)
    assert snapshot is not None
    long, edited = snapshot.messages
    assert len(long.text) == 1000 and long.text.startswith("head ") and long.text.endswith(" tail")
    assert "characters left out" in long.text
    assert len(edited.text) == 1000 and edited.text.startswith("edited ")
    raw = await redis_client.hget(store.messages_key(CONV), "100.000002")
    assert raw is not None and len(raw) < 1100
