"""RelayDanceClient against the loopback fake, over real sockets with a real httpx.AsyncClient:
answers that arrive, stopping early, the model list, the key kept secret and Retry-After.

Failures (HTTP errors, timeouts, broken streams) are in test_client_failures.py.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from datetime import UTC, datetime

import httpx
import pytest

from bot.errors import (
    UpstreamAuthError,
)
from bot.llm.client import ChatDelta, ChatRequest, RelayDanceClient, Usage, parse_retry_after
from tests.bot.llm.helpers import MODEL, REQUEST, MakeClient, collect, collect_until_error, text_of
from tests.fakes.relaydance import FakeRelayDance, Script, echo_answer

# -- streaming --------------------------------------------------------------------------------


async def test_pieces_arrive_in_order(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    pieces = ["Hel", "lo", ", wor", "ld"]
    fake.push(Script.stream(pieces, pace=0.005))
    deltas = await collect(client)
    assert text_of(deltas) == "".join(pieces)  # (pieces read together come as one delta)
    assert all(d.text for d in deltas[:-1])  # the empty role delta is skipped
    assert deltas[-1] == ChatDelta(finish_reason="stop")


async def test_request_body_and_headers(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    request = ChatRequest(
        model=MODEL,
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        temperature=0.2,
        stop=["\n\n"],
    )
    await collect(client, request)
    (sent,) = fake.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.json == {
        "model": MODEL,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
        "stop": ["\n\n"],
    }  # max_tokens and top_p were None, so they are left out
    assert sent.headers["Authorization"] == f"Bearer {fake.api_key}"
    assert sent.headers["Accept"] == "text/event-stream"


async def test_default_script_echoes_the_last_user_message(client: RelayDanceClient) -> None:
    deltas = await collect(client)
    assert text_of(deltas) == echo_answer("say hello")


async def test_text_read_together_is_one_delta_and_text_read_apart_is_not(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    # Pieces that arrive in one read go downstream as one delta (the renderer shows them in one
    # call anyway); pieces that arrive apart are given on as they come.
    event = b'data: {"object": "chat.completion.chunk", "choices": [{"delta": {"content": "%s"}}]}\n\n'
    events = b"".join(event % p for p in (b"a", b"b", b"c"))
    fake.push(Script.stream([], raw_prefix=events))  # one write: one read
    fake.push(Script.stream(["a", "b", "c"], pace=0.05))
    together, apart = await collect(client), await collect(client)
    assert text_of(together) == text_of(apart) == "abc"
    assert [d.text for d in together if d.text] == ["abc"]
    assert [d.text for d in apart if d.text] == ["a", "b", "c"]


async def test_crlf_keepalive_comments_and_bytes_split_inside_utf8(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    pieces = ["Grüß ", "日本", "👋🏽", "!"]
    fake.push(Script.stream(pieces, crlf=True, comments=True, split=(1, 2, 3, 5, 7)))
    deltas = await collect(client)
    assert text_of(deltas) == "".join(pieces)
    assert all("\ufffd" not in d.text for d in deltas)  # no character was cut in two


async def test_usage_chunk(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.stream(["a", "b"], usage=(3, 2, 5)))
    deltas = await collect(client)
    assert text_of(deltas) == "ab"
    assert deltas[-1] == ChatDelta(usage=Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5))


async def test_finish_reason_length_is_passed_through(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.stream(["cut "], finish_reason="length"))
    deltas = await collect(client)
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["length"]


async def test_non_json_data_lines_are_skipped(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.stream(["ok"], raw_prefix=b"data: vendor notice\n\ndata: 42\n\n"))
    assert text_of(await collect(client)) == "ok"


async def test_json_answer_to_a_stream_request(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.stream(["whole ", "answer"], as_json=True, usage=(1, 2, 3)))
    assert await collect(client) == [ChatDelta("whole answer", "stop", Usage(1, 2, 3))]


async def test_default_script_honours_max_tokens(client: RelayDanceClient) -> None:
    request = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "a b c d e f"}], max_tokens=3)
    deltas = await collect(client, request)
    assert text_of(deltas) == "Echo: a b "
    assert deltas[-1].finish_reason == "length"


async def test_connection_is_reused(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    await collect(client)
    await collect(client)
    first, second = fake.requests
    assert first.client_port == second.client_port  # the body was read to its end after [DONE]


# -- stopping early ---------------------------------------------------------------------------


async def test_aclose_closes_the_upstream_connection(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.stream(["a"] * 100, pace=0.05))
    stream = client.stream_chat(REQUEST)
    first = await anext(stream)
    assert first.text == "a"
    await stream.aclose()
    await fake.requests[0].wait_disconnected(timeout=0.5)
    assert not fake.requests[0].finished


async def test_cancelling_the_consumer_closes_the_upstream_connection(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    fake.push(Script.stream(["a"] * 100, pace=0.05))
    got_one = asyncio.Event()

    async def consume() -> None:  # a plain `async for`, as bot.core.answerer iterates
        async for _ in client.stream_chat(REQUEST):
            got_one.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_one.wait(), 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await fake.requests[0].wait_disconnected(timeout=0.5)


# -- models -----------------------------------------------------------------------------------


async def test_list_models(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.models = ["grok-4.3", "other"]
    assert await client.list_models() == ["grok-4.3", "other"]
    assert (fake.requests[0].method, fake.requests[0].path) == ("GET", "/v1/models")


async def test_list_models_retries_and_maps_errors(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.error(500), route="models")
    assert "grok-4.3" in await client.list_models()
    fake.push(Script.error(403), route="models")
    with pytest.raises(UpstreamAuthError):
        await client.list_models()


# -- the key stays secret ---------------------------------------------------------------------


async def test_api_key_never_shown(
    fake: FakeRelayDance, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = "rd-wrong-key-that-must-stay-hidden"
    client = make_client(api_key=key)
    caplog.set_level(logging.DEBUG)
    fake.push(Script.error(500))
    _, error = await collect_until_error(client)
    assert isinstance(error, UpstreamAuthError)
    assert "Incorrect API key" in error.detail  # the fake echoed the key in full …
    assert "[redacted]" in error.detail  # … and the client cut it out
    shown = [
        str(error),
        repr(error),
        error.detail,
        error.user_message,
        "".join(traceback.format_exception(error)),
        str(client),
        repr(client),
        repr(vars(client)),
        caplog.text,
    ]
    for text in shown:
        assert key not in text
    with pytest.raises(UpstreamAuthError) as caught:
        await client.list_models()
    assert key not in str(caught.value)


def test_repr_hides_url_credentials(http: httpx.AsyncClient) -> None:
    client = RelayDanceClient(http=http, base_url="https://user:pw@relaydance.com/v1", api_key="k" * 20)
    assert repr(client) == "RelayDanceClient(base_url='https://relaydance.com/v1')"


# -- Retry-After ------------------------------------------------------------------------------

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        (" 120 ", 120.0),
        ("0.25", 0.25),
        ("-4", 0.0),
        ("soon", None),
        ("inf", None),
        ("Thu, 02 Jan 2025 03:04:15 GMT", 10.0),
        ("Thu, 02 Jan 2025 03:03:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected
