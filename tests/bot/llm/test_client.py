"""RelayDanceClient against the loopback fake, over real sockets with a real httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
import traceback
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from bot.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamConnectError,
    UpstreamError,
    UpstreamModelNotFound,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamStreamError,
    UpstreamTimeout,
)
from bot.llm.client import ChatDelta, ChatRequest, RelayDanceClient, Usage, parse_retry_after
from tests.fakes.relaydance import FakeRelayDance, Script, echo_answer

MODEL = "grok-4.3"
REQUEST = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "say hello"}])

MakeClient = Callable[..., RelayDanceClient]


@pytest.fixture
async def fake() -> AsyncIterator[FakeRelayDance]:
    async with FakeRelayDance() as fake:
        yield fake


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    """Built once: loading the CA bundle takes ~60 ms, more than most tests here."""
    return ssl.create_default_context()


@pytest.fixture
async def http(tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=tls) as http:
        yield http


@pytest.fixture
def make_client(fake: FakeRelayDance, http: httpx.AsyncClient) -> MakeClient:
    """A client on the fake with test-sized timeouts and backoff; keyword overrides win."""

    def make(**overrides: Any) -> RelayDanceClient:
        options: dict[str, Any] = {
            "http": http,
            "base_url": fake.base_url,
            "api_key": fake.api_key,
            "connect_timeout": 1.0,
            "first_token_timeout": 1.0,
            "idle_timeout": 1.0,
            "max_retries": 2,
            "backoff_base": 0.001,
            "max_retry_after": 1.0,
        }
        return RelayDanceClient(**{**options, **overrides})

    return make


@pytest.fixture
def client(make_client: MakeClient) -> RelayDanceClient:
    return make_client()


async def collect(client: RelayDanceClient, request: ChatRequest = REQUEST) -> list[ChatDelta]:
    return [delta async for delta in client.stream_chat(request)]


async def collect_until_error(
    client: RelayDanceClient, request: ChatRequest = REQUEST
) -> tuple[list[ChatDelta], UpstreamError]:
    deltas: list[ChatDelta] = []
    with pytest.raises(UpstreamError) as caught:
        async for delta in client.stream_chat(request):
            deltas.append(delta)
    return deltas, caught.value


def text_of(deltas: list[ChatDelta]) -> str:
    return "".join(delta.text for delta in deltas)


# -- streaming --------------------------------------------------------------------------------


async def test_pieces_arrive_in_order(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    pieces = ["Hel", "lo", ", wor", "ld"]
    fake.push(Script.stream(pieces, pace=0.005))
    deltas = await collect(client)
    assert [d.text for d in deltas if d.text] == pieces  # the empty role delta is skipped
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
        "temperature": 0.2,
        "stop": ["\n\n"],
    }  # max_tokens and top_p were None, so they are left out
    assert sent.headers["Authorization"] == f"Bearer {fake.api_key}"
    assert sent.headers["Accept"] == "text/event-stream"


async def test_default_script_echoes_the_last_user_message(client: RelayDanceClient) -> None:
    deltas = await collect(client)
    assert text_of(deltas) == echo_answer("say hello")
    assert len([d for d in deltas if d.text]) > 1


async def test_crlf_keepalive_comments_and_bytes_split_inside_utf8(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    pieces = ["Grüß ", "日本", "👋🏽", "!"]
    fake.push(Script.stream(pieces, crlf=True, comments=True, split=(1, 2, 3, 5, 7)))
    deltas = await collect(client)
    assert [d.text for d in deltas if d.text] == pieces


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


# -- HTTP errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, UpstreamBadRequest),
        (401, UpstreamAuthError),
        (403, UpstreamAuthError),
        (404, UpstreamModelNotFound),
        (422, UpstreamBadRequest),
    ],
)
async def test_client_errors_are_typed_and_not_retried(
    fake: FakeRelayDance, client: RelayDanceClient, status: int, error_type: type[UpstreamError]
) -> None:
    fake.push(Script.error(status, "explained " + "x" * 500))
    _, error = await collect_until_error(client)
    assert type(error) is error_type
    assert error.status == status
    assert "explained" in error.detail
    assert len(error.detail) < 300  # the upstream text is clipped
    assert len(fake.requests) == 1


async def test_unknown_model(client: RelayDanceClient) -> None:
    _, error = await collect_until_error(client, ChatRequest(model="nope", messages=REQUEST.messages))
    assert isinstance(error, UpstreamModelNotFound)
    assert error.model == "nope"
    assert "`nope`" in error.user_message


async def test_parameter_out_of_range(client: RelayDanceClient) -> None:
    _, error = await collect_until_error(
        client, ChatRequest(model=MODEL, messages=REQUEST.messages, temperature=5)
    )
    assert isinstance(error, UpstreamBadRequest)
    assert "temperature" in error.detail


async def test_error_body_that_is_not_json(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.error(418, body=b"<html>teapot</html>"))
    _, error = await collect_until_error(client)
    assert isinstance(error, UpstreamBadRequest)
    assert "teapot" in error.detail


async def test_429_waits_retry_after_then_succeeds(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.error(429, retry_after="0.05"))
    assert text_of(await collect(client)) == echo_answer("say hello")
    first, second = fake.requests
    assert second.received_at - first.received_at >= 0.05


async def test_429_with_http_date_retry_after(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(
        Script.error(429, retry_after=format_datetime(datetime.now(UTC) - timedelta(seconds=5), usegmt=True))
    )
    assert text_of(await collect(client)) == echo_answer("say hello")
    assert len(fake.requests) == 2


async def test_429_retry_after_too_long_is_not_retried(fake: FakeRelayDance, make_client: MakeClient) -> None:
    fake.push(Script.error(429, retry_after=30))
    start = time.monotonic()
    _, error = await collect_until_error(make_client(max_retry_after=20))
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after == 30
    assert "30 s" in error.user_message
    assert len(fake.requests) == 1
    assert time.monotonic() - start < 1


async def test_429_exhausted(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(*[Script.error(429)] * 3)
    _, error = await collect_until_error(client)
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after is None
    assert len(fake.requests) == 3


async def test_500_retried_then_success(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.error(500), Script.error(502))
    assert text_of(await collect(client)) == echo_answer("say hello")
    assert len(fake.requests) == 3


async def test_5xx_exhausted(fake: FakeRelayDance, make_client: MakeClient) -> None:
    fake.push(*[Script.error(503, "overloaded")] * 2)
    _, error = await collect_until_error(make_client(max_retries=1))
    assert isinstance(error, UpstreamServerError)
    assert (error.status, len(fake.requests)) == (503, 2)
    assert "overloaded" in error.detail


async def test_retries_are_logged(
    fake: FakeRelayDance, client: RelayDanceClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.push(Script.error(500))
    with caplog.at_level(logging.INFO, logger="bot.llm.client"):
        await collect(client)
    (record,) = [r for r in caplog.records if r.name == "bot.llm.client"]
    assert record.levelno == logging.INFO
    assert "HTTP 500" in record.getMessage()
    assert "retry 1 of 2" in record.getMessage()


async def test_connect_error(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = RelayDanceClient(
        http=http, base_url=f"http://127.0.0.1:{port}/v1", api_key="rd-key", max_retries=1, backoff_base=0.001
    )
    with pytest.raises(UpstreamConnectError) as caught:
        await collect(client)
    assert caught.value.user_message == UpstreamConnectError.user_message
    with pytest.raises(UpstreamConnectError):
        await client.list_models()


# -- timeouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(Script.hang(), id="no-headers"),
        pytest.param(Script.stream(["late"], first_delay=5), id="headers-then-silence"),
        pytest.param(Script.stream(["late"], first_delay=5, keepalive=0.01), id="keepalives-only"),
    ],
)
async def test_first_token_timeout(fake: FakeRelayDance, make_client: MakeClient, script: Script) -> None:
    fake.push(script)
    start = time.monotonic()
    deltas, error = await collect_until_error(make_client(first_token_timeout=0.1))
    assert time.monotonic() - start < 0.5
    assert deltas == []
    assert isinstance(error, UpstreamTimeout)
    assert (error.phase, error.seconds) == ("first_token", 0.1)
    assert len(fake.requests) == 1  # a timeout is not retried
    await fake.requests[0].wait_disconnected()


async def test_idle_timeout_mid_stream(fake: FakeRelayDance, make_client: MakeClient) -> None:
    fake.push(Script.stream(["a", "b"], pace=5))
    deltas, error = await collect_until_error(make_client(idle_timeout=0.1))
    assert text_of(deltas) == "a"
    assert isinstance(error, UpstreamTimeout)
    assert (error.phase, error.seconds) == ("idle", 0.1)


async def test_slow_but_steady_stream_longer_than_every_timeout_succeeds(
    fake: FakeRelayDance, make_client: MakeClient
) -> None:
    pieces = [f"{i} " for i in range(12)]
    fake.push(Script.stream(pieces, first_delay=0.05, pace=0.03))
    start = time.monotonic()
    deltas = await collect(make_client(first_token_timeout=0.1, idle_timeout=0.1))
    assert time.monotonic() - start > 0.3  # three times either timeout, in total
    assert text_of(deltas) == "".join(pieces)


async def test_keepalives_after_the_first_token_keep_the_stream_alive(
    fake: FakeRelayDance, make_client: MakeClient
) -> None:
    fake.push(Script.stream(["a", "b"], pace=0.25, keepalive=0.02))
    assert text_of(await collect(make_client(idle_timeout=0.1))) == "ab"


# -- broken streams ---------------------------------------------------------------------------


async def test_cut_stream_keeps_the_partial_answer(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.stream(["one ", "two ", "three"], cut_after=2))
    deltas, error = await collect_until_error(client)
    assert text_of(deltas) == "one two "
    assert isinstance(error, UpstreamStreamError)
    assert len(fake.requests) == 1  # a partial answer is never restarted


async def test_stream_ending_without_done(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.stream(["all"], done=False))
    deltas, error = await collect_until_error(client)
    assert text_of(deltas) == "all"
    assert isinstance(error, UpstreamStreamError)
    assert "[DONE]" in error.detail


@pytest.mark.parametrize("after", [0, 1])
async def test_error_object_mid_stream(fake: FakeRelayDance, client: RelayDanceClient, after: int) -> None:
    fake.push(Script.stream(["one ", "two"], error_after=after, error_message="model overloaded"))
    deltas, error = await collect_until_error(client)
    assert text_of(deltas) == "".join(["one ", "two"][:after])
    assert isinstance(error, UpstreamStreamError)
    assert "model overloaded" in error.detail
    assert len(fake.requests) == 1


async def test_error_event_with_plain_text(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.stream(["never"], raw_prefix=b"event: error\ndata: upstream exploded\n\n"))
    deltas, error = await collect_until_error(client)
    assert deltas == []
    assert isinstance(error, UpstreamStreamError)
    assert "upstream exploded" in error.detail


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
