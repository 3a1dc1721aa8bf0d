"""Read pacing (`bot.llm.pacing`) end to end: the client over the aiohttp transport with a pacer,
against the loopback fake. Ticks are made long here where a test shows what does *not* wait for one
(the first token, a connection going back to the pool, a Stop): a wait would then be obvious."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest

from bot.llm.client import ChatDelta, RelayDanceClient
from bot.llm.pacing import ReadPacer
from bot.llm.transport import AiohttpTransport
from tests.bot.llm.helpers import REQUEST, text_of
from tests.fakes.relaydance import FakeRelayDance, Script


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def paced_client(fake: FakeRelayDance, session: aiohttp.ClientSession, pacer: ReadPacer) -> RelayDanceClient:
    http = httpx.AsyncClient(transport=AiohttpTransport(session, pacer=pacer))
    return RelayDanceClient(http=http, base_url=fake.base_url, api_key=fake.api_key, idle_timeout=10.0)


def test_the_interval_grows_with_the_streams_read() -> None:
    pacer = ReadPacer(lone_interval=0.1, busy_interval=0.25, busy_streams=4)
    seen = []
    for _ in range(6):
        seen.append(round(pacer.interval(), 3))
        pacer.opened()
    assert seen == [0.1, 0.1, 0.15, 0.2, 0.25, 0.25]
    for _ in range(8):
        pacer.closed()
    assert (pacer.streams, pacer.interval()) == (0, 0.1)


async def test_a_fast_stream_is_read_once_a_tick_and_nothing_is_lost(
    fake: FakeRelayDance, session: aiohttp.ClientSession
) -> None:
    pieces = [f"w{i} " for i in range(40)]
    fake.push(Script.stream(pieces, pace=0.01))  # 0.4 s of tokens, 100 a second
    pacer = ReadPacer(lone_interval=0.2, busy_interval=0.2)
    deltas = [d async for d in paced_client(fake, session, pacer).stream_chat(REQUEST)]
    assert text_of(deltas) == "".join(pieces)
    texts = [d.text for d in deltas if d.text]
    # Read as they came that would be ~40 deltas; one read a tick is at most 0.4 / 0.2 + the
    # first piece (read at once) + the tick the stream ended in.
    assert 2 <= len(texts) <= 5, texts
    assert pacer.streams == 0


async def test_the_first_text_is_not_held_for_a_tick(
    fake: FakeRelayDance, session: aiohttp.ClientSession
) -> None:
    fake.push(Script.stream(["first", " second"], first_delay=0.05, pace=0.05))
    client = paced_client(fake, session, ReadPacer(lone_interval=5.0, busy_interval=5.0))
    started = time.monotonic()
    async for delta in client.stream_chat(REQUEST):
        if delta.text:
            assert delta.text == "first"
            assert time.monotonic() - started < 2.0  # not the 5 s tick
            break


async def test_a_connection_back_in_the_pool_is_not_left_paused(
    fake: FakeRelayDance, session: aiohttp.ClientSession
) -> None:
    # Everything arrives in one read (text and [DONE]): the stream is held once, after its text,
    # and the connection goes back to the pool. The next request on it must not wait for the tick.
    fake.push(Script.stream(["a", "b"]))
    fake.push(Script.stream(["c"]))
    pacer = ReadPacer(lone_interval=5.0, busy_interval=5.0)
    client = paced_client(fake, session, pacer)
    started = time.monotonic()
    first = [d async for d in client.stream_chat(REQUEST)]
    second = [d async for d in client.stream_chat(REQUEST)]
    assert (text_of(first), text_of(second)) == ("ab", "c")
    assert time.monotonic() - started < 2.0
    assert fake.requests[0].client_port == fake.requests[1].client_port
    assert pacer.streams == 0


async def test_stop_while_held_closes_the_stream_at_once(
    fake: FakeRelayDance, session: aiohttp.ClientSession
) -> None:
    fake.push(Script.stream([f"w{i} " for i in range(200)], pace=0.01))
    pacer = ReadPacer(lone_interval=5.0, busy_interval=5.0)
    client = paced_client(fake, session, pacer)
    got: list[ChatDelta] = []
    first = asyncio.Event()

    async def read() -> None:
        async for delta in client.stream_chat(REQUEST):
            got.append(delta)
            first.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(first.wait(), 2.0)
    await asyncio.sleep(0.05)  # now held until a tick 5 s away
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.0
    await fake.requests[0].wait_disconnected(timeout=1.0)  # the upstream stops generating
    assert text_of(got).startswith("w0 ")
    assert pacer.streams == 0
