"""The RelayDance client: OpenAI-style chat completions streamed as server-sent events.

It wraps one injected `httpx.AsyncClient` (the process-wide connection pool, owned and closed by
whoever made it) and turns every failure into one of the typed errors in `bot.errors`.

Timeouts follow how a streamed answer fails, not how long it is:

- connect: the TCP/TLS connection (and waiting for a pooled one);
- first token: from sending the request until the first sign of work - a delta with text, a
  refusal, a piece of a tool call or reasoning (a reasoning model thinks before it answers);
  keep-alive comments and empty deltas do not count, so a server that only pings cannot hold a
  request open forever;
- idle: after that, the longest silence between two network reads. Any bytes count (a keep-alive
  comment proves the upstream is alive). There is no limit on the whole answer;
- thinking: from the first reasoning, how long the model may reason before its answer text
  starts, so a model that thinks without end is stopped with a plain message.

Retries (exponential backoff with full jitter, or the server's Retry-After) cover connection
failures, 429 and 5xx - all of which happen before the response body starts, so a partial answer is
never restarted. Once a 2xx stream has begun, every failure is raised as it happens.

A refusal (OpenAI's `refusal` field) is shown as the answer's text, after `REFUSAL_PREFIX`.

An error sent as a data event, OpenAI's `{"error": …}` or vLLM's `{"object": "error", …}`, ends
the stream with `UpstreamStreamError`, as a cut connection does.

A `data:` line that is not JSON is skipped with a debug log: OpenAI-compatible relays add odd lines
(vendor notices, blank payloads), and a stream that is really broken still fails, because it then
ends without `[DONE]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import replace
from typing import Any, cast

import httpx

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
from bot.llm.context_limit import context_limit
from bot.llm.sse import ServerSentEvent, SSEDecoder
from bot.llm.transport import ReadPacing
from bot.llm.watchdog import ReadWatchdog
from bot.llm.wire import (
    ChatDelta,
    ChatRequest,
    Usage,
    answer_delta,
    chunk_delta,
    error_message,
    parse_retry_after,
)

# The request and answer types live in bot.llm.wire; they are importable from here as before.
__all__ = ["REFUSAL_PREFIX", "ChatDelta", "ChatRequest", "RelayDanceClient", "Usage", "parse_retry_after"]

log = logging.getLogger(__name__)

_DETAIL_CHARS = 200  # upstream error text kept in `detail`
_ERROR_BODY_BYTES = 64 * 1024  # an error body is read only this far
_JSON_BODY_BYTES = 8 * 1024 * 1024  # a non-streamed answer or model list
_DRAIN_SECONDS = 1.0  # after [DONE], wait this long for the body's end so the connection is reused

REFUSAL_PREFIX = "The model declined to answer: "
"""Put before a refusal's text, once per answer, so it does not read as the model's answer."""


class _Retryable(Exception):
    """Internal: `error` may be retried, after `retry_after` seconds if the server said so."""

    def __init__(self, error: UpstreamError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class _Done:
    """Internal marker for the `[DONE]` event."""


_DONE = _Done()


class RelayDanceClient:
    """Talks to RelayDance over the injected client; safe to share between concurrent tasks."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        connect_timeout: float = 5.0,
        first_token_timeout: float = 60.0,
        idle_timeout: float = 30.0,
        thinking_timeout: float = 180.0,
        max_retries: int = 2,
        backoff_base: float = 0.5,
        max_retry_after: float = 20.0,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        # httpx.Headers masks `authorization` in its repr, so even vars(client) does not show the key.
        self._headers = httpx.Headers({"Authorization": f"Bearer {api_key}"})
        self._connect_timeout = connect_timeout
        self._first_token_timeout = first_token_timeout
        self._idle_timeout = idle_timeout
        self._thinking_timeout = thinking_timeout
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._max_retry_after = max_retry_after
        # The read timeout is ours (first token / idle), so httpx's is off.
        self._timeout = httpx.Timeout(connect_timeout, read=None)

    def __repr__(self) -> str:
        shown = httpx.URL(self._base_url).copy_with(userinfo=b"")
        return f"RelayDanceClient(base_url={str(shown)!r})"

    # -- public API ---------------------------------------------------------------------------

    async def stream_chat(self, request: ChatRequest) -> AsyncGenerator[ChatDelta, None]:
        """Yield the answer as it arrives; stops after `[DONE]`.

        Stopping early closes the HTTP response at once, so the upstream sees the disconnect and
        stops generating: cancelling the consuming task or calling `aclose()` does it directly.
        After a plain `break` Python closes an async generator only when it is garbage-collected,
        so wrap the call in `contextlib.aclosing()` if you break out of the loop.
        """
        response, deadline = await self._open(
            "POST",
            "/chat/completions",
            request.to_body(stream=True),
            model=request.model,
            phase="first_token",
            headers={"Accept": "text/event-stream", "Accept-Encoding": "identity"},
        )
        try:
            if _is_json(response):  # a relay that ignored stream=true answered in one piece
                body = await self._read(response, _JSON_BODY_BYTES, deadline, "first_token")
                delta = self._whole_answer(body)
                if delta is not None:
                    yield _shown_refusal(delta, refused=False)
                return
            # httpx implements aiter_bytes as an async generator; closing it explicitly below
            # keeps cleanup deterministic instead of leaving it to the garbage collector.
            chunks = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
            try:
                pacing = response.extensions.get("read_pacing")
                if not isinstance(pacing, ReadPacing):
                    pacing = None
                reading = self._read_stream(chunks, deadline, pacing)
                async with contextlib.aclosing(reading) as deltas:
                    async for delta in deltas:
                        yield delta
            finally:
                await chunks.aclose()
        finally:
            await response.aclose()

    async def list_models(self) -> list[str]:
        """The model ids the key may use (`GET /models`), with the same retries and errors."""
        response, deadline = await self._open("GET", "/models", None, model="", phase="response")
        try:
            body = await self._read(response, _JSON_BODY_BYTES, deadline, "response")
        finally:
            await response.aclose()
        try:
            data = json.loads(body)["data"]
            return [item["id"] for item in data if isinstance(item.get("id"), str)]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UpstreamServerError(f"unexpected /models answer: {self._clip(body)}") from exc

    # -- sending, with retries ------------------------------------------------------------------

    async def _open(
        self,
        method: str,
        path: str,
        body: dict[str, object] | None,
        *,
        model: str,
        phase: str,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[httpx.Response, float]:
        """Send until a 2xx arrives; return the unread response and the first-token deadline."""
        attempt = 0
        while True:
            try:
                return await self._attempt(method, path, body, model=model, phase=phase, headers=headers)
            except _Retryable as failure:
                delay = self._retry_delay(attempt, failure.retry_after)
                if delay is None or attempt >= self._max_retries:
                    raise failure.error from failure.__cause__
                attempt += 1
                log.info(
                    "RelayDance %s %s failed (%s); retry %d of %d in %.2f s",
                    method,
                    path,
                    f"HTTP {failure.error.status}" if failure.error.status else failure.error.detail,
                    attempt,
                    self._max_retries,
                    delay,
                )
                await asyncio.sleep(delay)

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the server asked for too long."""
        if retry_after is not None:
            return retry_after if retry_after <= self._max_retry_after else None
        ceiling = min(self._max_retry_after, self._backoff_base * 2**attempt)
        return random.uniform(0, ceiling)  # full jitter: concurrent retries spread out

    async def _attempt(
        self,
        method: str,
        path: str,
        body: dict[str, object] | None,
        *,
        model: str,
        phase: str,
        headers: Mapping[str, str] | None,
    ) -> tuple[httpx.Response, float]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._first_token_timeout
        request = self._http.build_request(
            method,
            self._base_url + path,
            json=body,
            headers={**self._headers, **(headers or {})},
            timeout=self._timeout,
        )
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._http.send(request, stream=True)
        except TimeoutError:
            raise UpstreamTimeout(
                f"no response to {method} {path} within {self._first_token_timeout:g} s",
                phase=phase,
                seconds=self._first_token_timeout,
            ) from None
        except httpx.TimeoutException as exc:  # connect, pool or write: the request never left
            raise _Retryable(
                UpstreamTimeout(
                    f"connecting to {request.url.host} took over {self._connect_timeout:g} s",
                    phase="connect",
                    seconds=self._connect_timeout,
                )
            ) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
            # Refused, reset, or a pooled connection closed before any response: safe to resend.
            raise _Retryable(
                UpstreamConnectError(f"{method} {path} to {request.url.host} failed: {exc}")
            ) from exc
        except httpx.HTTPError as exc:  # unsupported scheme, bad URL: retrying cannot help
            raise UpstreamConnectError(f"{method} {path} failed: {type(exc).__name__}: {exc}") from exc

        if response.is_success:
            return response, deadline
        try:
            text = await self._read(response, _ERROR_BODY_BYTES, deadline, phase)
        finally:
            await response.aclose()
        raise self._status_error(response, text, model)

    def _status_error(self, response: httpx.Response, body: bytes, model: str) -> Exception:
        """Map a non-2xx answer to a typed error, wrapped in `_Retryable` when a retry may help."""
        status = response.status_code
        detail = f"HTTP {status} from {response.request.url.path}: {self._clip(error_message(body))}"
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in (401, 403):
            return UpstreamAuthError(detail, status=status)
        if status == 404:
            return UpstreamModelNotFound(detail, status=status, model=model)
        if status == 429:
            return _Retryable(UpstreamRateLimited(detail, retry_after=retry_after), retry_after)
        if status >= 500:
            return _Retryable(UpstreamServerError(detail, status=status), retry_after)
        if (too_long := context_limit(body)) is not None:  # a shorter prompt may go through
            return UpstreamContextTooLong(
                detail, status=status, limit=too_long.limit, prompt_tokens=too_long.prompt_tokens
            )
        return UpstreamBadRequest(detail, status=status)

    async def _read(self, response: httpx.Response, limit: int, deadline: float, phase: str) -> bytes:
        """Read a (non-streamed) body, at most `limit` bytes, before `deadline`."""
        buffer = bytearray()
        try:
            async with asyncio.timeout_at(deadline):
                async for part in response.aiter_bytes():
                    buffer += part
                    if len(buffer) >= limit:
                        break
        except TimeoutError:
            raise UpstreamTimeout(
                f"the response body did not arrive within {self._first_token_timeout:g} s",
                phase=phase,
                seconds=self._first_token_timeout,
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamStreamError(f"reading the response failed: {type(exc).__name__}") from exc
        return bytes(buffer[:limit])

    # -- reading the stream ---------------------------------------------------------------------

    async def _read_stream(
        self, chunks: AsyncIterator[bytes], deadline: float, pacing: ReadPacing | None = None
    ) -> AsyncGenerator[ChatDelta, None]:
        loop = asyncio.get_running_loop()
        decoder = SSEDecoder()
        started = False  # text, a refusal or reasoning has arrived: the idle timeout applies
        answering = False  # text or a refusal has arrived: thinking is over
        thinking_until: float | None = None  # set by the first reasoning, until answering
        refused = False  # a refusal's first piece has been shown (with its prefix)
        with ReadWatchdog() as watchdog:  # one timer for the whole stream, not one per read
            while True:
                if started:
                    deadline = loop.time() + self._idle_timeout
                    if thinking_until is not None and thinking_until < deadline:
                        deadline = thinking_until
                try:
                    chunk = await watchdog.read(chunks, deadline)
                except TimeoutError:
                    raise self._read_timeout(started, deadline == thinking_until) from None
                except httpx.HTTPError as exc:
                    raise UpstreamStreamError(f"the stream broke: {type(exc).__name__}: {exc}") from exc
                events = decoder.flush() if chunk is None else decoder.feed(chunk)
                text: list[str] = []  # plain text of this read's events, given on as one delta
                for event in events:
                    try:
                        delta = self._parse_event(event)
                    except UpstreamError:
                        if text:  # what came before the error is kept
                            yield ChatDelta("".join(text))
                        raise
                    if delta is None:
                        continue
                    if isinstance(delta, _Done):
                        if text:
                            yield ChatDelta("".join(text))
                        if pacing is not None:
                            pacing.stop()  # only the body's end is left: no tick to wait for
                        await self._drain(chunks)
                        return
                    if delta.refusal:
                        delta, refused = _shown_refusal(delta, refused=refused), True
                    if not answering:
                        if delta.text or delta.tool_calls:  # a tool call is the model's answer too
                            answering, started, thinking_until = True, True, None
                            if pacing is not None:
                                pacing.start()
                        elif delta.reasoning:
                            started = True
                            if thinking_until is None:
                                thinking_until = loop.time() + self._thinking_timeout
                    if delta.text and _plain(delta):
                        text.append(delta.text)  # one delta per read, not per token, downstream
                        continue
                    if text:
                        yield ChatDelta("".join(text))
                        text.clear()
                    yield delta
                if text:
                    yield ChatDelta("".join(text))
                if chunk is None:
                    raise UpstreamStreamError("the stream ended without [DONE] (connection cut)")

    def _read_timeout(self, started: bool, thinking: bool) -> UpstreamTimeout:
        """The timeout that ran out: the thinking cap, the idle gap, or the first token's wait."""
        if thinking:
            seconds = self._thinking_timeout
            return UpstreamTimeout(
                f"the model reasoned for {seconds:g} s without starting its answer",
                phase="thinking",
                seconds=seconds,
            )
        if started:
            phase, seconds = "idle", self._idle_timeout
        else:
            phase, seconds = "first_token", self._first_token_timeout
        return UpstreamTimeout(
            f"RelayDance sent nothing for {seconds:g} s ({phase.replace('_', ' ')})",
            phase=phase,
            seconds=seconds,
        )

    async def _drain(self, chunks: AsyncIterator[bytes]) -> None:
        """Read the body's end after `[DONE]`: httpx returns a connection to the pool only then."""
        with contextlib.suppress(TimeoutError, httpx.HTTPError):
            async with asyncio.timeout(min(_DRAIN_SECONDS, self._idle_timeout)):
                async for _ in chunks:
                    pass

    def _parse_event(self, event: ServerSentEvent) -> ChatDelta | _Done | None:
        data = event.data
        if data == "[DONE]":
            return _DONE
        try:
            chunk: Any = json.loads(data)
        except ValueError:
            if event.event == "error":
                raise UpstreamStreamError(f"error in stream: {self._clip(data)}") from None
            log.debug("skipping a stream event that is not JSON: %.80r", data)
            return None
        if not isinstance(chunk, dict):
            log.debug("skipping a stream event that is not an object: %.80r", data)
            return None
        if chunk.get("error") is not None or chunk.get("object") == "error" or event.event == "error":
            raise UpstreamStreamError(f"error in stream: {self._clip(error_message(chunk))}")
        return chunk_delta(chunk)

    def _whole_answer(self, body: bytes) -> ChatDelta | None:
        """A `chat.completion` object (stream=true ignored) as one delta."""
        try:
            answer: Any = json.loads(body)
        except ValueError:
            raise UpstreamStreamError(f"unreadable answer: {self._clip(body)}") from None
        if not isinstance(answer, dict) or answer.get("error") is not None or answer.get("object") == "error":
            raise UpstreamStreamError(f"error in answer: {self._clip(error_message(answer))}")
        return answer_delta(answer)

    def _clip(self, text: str | bytes) -> str:
        """Upstream text made fit for `detail`: one line, short, and never containing the key."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        key = self._headers["Authorization"].removeprefix("Bearer ")
        if key:
            text = text.replace(key, "[redacted]")
        text = " ".join(text.split())
        return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def _plain(delta: ChatDelta) -> bool:
    """Only text: nothing that must reach the consumer as a delta of its own."""
    return not (delta.finish_reason or delta.usage or delta.reasoning or delta.refusal or delta.tool_calls)


def _shown_refusal(delta: ChatDelta, *, refused: bool) -> ChatDelta:
    """`delta` with its refusal added to its text; the first piece of a refusal gets the prefix."""
    if not delta.refusal:
        return delta
    shown = delta.refusal if refused else REFUSAL_PREFIX + delta.refusal
    return replace(delta, text=delta.text + shown)


def _is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("Content-Type", "")
    return content_type.lower().startswith("application/json")
