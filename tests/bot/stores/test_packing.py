"""Commands packed in one hiredis call: the same bytes as redis-py's packer, redis-py's own errors
for what it refuses, and real round trips through the bot's pool."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.connection import HiredisRespSerializer
from redis.exceptions import DataError

from bot.stores import packing
from bot.stores.guard import connect as bot_connect
from bot.stores.pool import SlotPool

ARGS = [
    ("SET", "key", "value"),
    ("SET", "kéy ☃", "välue with spaces", "EX", 60),
    ("EVALSHA", "a" * 40, 2, "k1", "k2", "take", repr(0.1 + 0.2), 1e20, 1e-7, -3, 2**70, "", b"\x00\xff"),
    ("HSET", "h", "f", 0.5, "g", float("inf"), "n", 0),
    (b"GET", b"raw"),
]


def _standard() -> HiredisRespSerializer:
    client = aioredis.Redis(decode_responses=True)
    return HiredisRespSerializer(None, client.connection_pool.get_encoder().encode)


@pytest.mark.parametrize("args", ARGS)
def test_the_bytes_are_redis_pys(args: tuple[object, ...]) -> None:
    standard = _standard()
    assert packing.DirectPacker(standard.pack).pack(*args) == standard.pack(*args)


def test_a_command_name_with_a_space_is_split_as_redis_py_does() -> None:
    standard = _standard()
    packer = packing.DirectPacker(standard.pack)
    assert packer.pack("CLIENT SETINFO", "LIB-NAME", "bot") == standard.pack(
        "CLIENT", "SETINFO", "LIB-NAME", "bot"
    )
    assert packer.pack(b"CLIENT SETINFO", "LIB-VER", "1") == standard.pack(
        "CLIENT", "SETINFO", "LIB-VER", "1"
    )


@pytest.mark.parametrize("bad", [True, None, ["a"]])
def test_what_redis_cannot_take_raises_redis_pys_error(bad: object) -> None:
    packer = packing.DirectPacker(_standard().pack)
    with pytest.raises(DataError):
        packer.pack("SET", "key", bad)


def test_text_that_is_not_utf8_raises_a_unicode_error() -> None:
    with pytest.raises(UnicodeError):  # the guard's "refused this one command"
        packing.DirectPacker(_standard().pack).pack("SET", "key", "\ud800")


def test_memoryviews_go_redis_pys_way() -> None:
    standard = _standard()
    view = memoryview(b"payload")
    assert packing.DirectPacker(standard.pack).pack("SET", "key", view) == standard.pack(
        "SET", "key", b"payload"
    )


def test_only_strict_utf8_connections_get_the_direct_packer() -> None:
    utf8 = SlotPool.from_url("redis://127.0.0.1:1", decode_responses=True).make_connection()
    latin = SlotPool.from_url("redis://127.0.0.1:1", encoding="latin-1").make_connection()
    lenient = SlotPool.from_url("redis://127.0.0.1:1", encoding_errors="replace").make_connection()
    assert isinstance(utf8._command_packer, packing.DirectPacker)  # noqa: SLF001 - what redis-py packs with
    assert not isinstance(latin._command_packer, packing.DirectPacker)  # noqa: SLF001
    assert not isinstance(lenient._command_packer, packing.DirectPacker)  # noqa: SLF001


async def test_round_trips_through_the_bots_client(redis_url: str, redis_prefix: str) -> None:
    client = bot_connect(redis_url, max_connections=4, timeout=2.0)
    key, field_key = f"{redis_prefix}:packed", f"{redis_prefix}:packed-h"
    try:
        await client.set(key, "välue ☃ with spaces", ex=60)
        await client.hset(field_key, mapping={"f": 0.30000000000000004, "n": 2**70})
        assert await client.get(key) == "välue ☃ with spaces"
        assert await client.hgetall(field_key) == {"f": "0.30000000000000004", "n": str(2**70)}
        assert await client.eval("return ARGV[1] .. ARGV[2]", 0, "é", 7) == "é7"
    finally:
        await client.delete(key, field_key)
        await client.aclose()
