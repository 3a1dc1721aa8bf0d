"""RelayDanceClient failing the ways upstreams fail: HTTP errors and retries, timeouts, broken streams."""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from bot.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamConnectError,
    UpstreamContextTooLong,
    UpstreamError,
    UpstreamModelNotFound,
    UpstreamRateLimited,
    UpstreamServerError,
    UpstreamStreamError,
    UpstreamTimeout,
)
from bot.llm.client import ChatRequest, RelayDanceClient
from tests.bot.llm.helpers import MODEL, REQUEST, MakeClient, collect, collect_until_error, text_of, warm_up
from tests.fakes.relaydance import FakeRelayDance, Script, echo_answer

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


async def test_a_prompt_too_long_for_the_model_is_its_own_bad_request_not_retried(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    fake.push(Script.context_length(limit=131_072, used=140_000))
    _, error = await collect_until_error(client)
    assert isinstance(error, UpstreamContextTooLong) and isinstance(error, UpstreamBadRequest)
    assert error.status == 400
    assert (error.limit, error.prompt_tokens) == (131_072, 140_000)
    assert "maximum context length is 131072 tokens" in error.detail
    assert len(fake.requests) == 1  # the same request again would be refused again


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
    await warm_up(fake, make_client)
    fake.push(script)
    start = time.monotonic()
    deltas, error = await collect_until_error(make_client(first_token_timeout=0.1))
    assert time.monotonic() - start < 0.5
    assert deltas == []
    assert isinstance(error, UpstreamTimeout)
    assert (error.phase, error.seconds) == ("first_token", 0.1)
    assert len(fake.requests) == 2  # the warm-up, then this one: a timeout is not retried
    await fake.requests[1].wait_disconnected()


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
    await warm_up(fake, make_client)
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
