"""The fake RelayDance server: `FakeRelayDance`, the `Request`s it records, and its routes.

See the package docstring (`tests.fakes.relaydance`) for what it serves.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Literal, Self

import pytest
from aiohttp import web

from tests.fakes.relaydance.answers import (
    Writer,
    chunk,
    completion,
    content_text,
    error_response,
    invalid_reason,
    may_call_tools,
    message_chars,
    piece_event,
    tool_call_chunks,
    wants_usage,
)
from tests.fakes.relaydance.script import ContextWording, Script, echo_answer, words

__all__ = ["API_KEY", "MODELS", "FakeRelayDance", "Request", "relaydance_fake"]

API_KEY = "rd-fake-key-0123456789abcdef"
MODELS = ("grok-4.3", "grok-4.3-mini")
Route = Literal["chat", "models"]
CHARS_PER_TOKEN = 4  # how the fake counts tokens when it refuses a request as too long


@dataclass
class Request:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any  # the parsed body; None for a GET or a body that is not JSON
    received_at: float  # time.monotonic()
    client_port: int  # the client's source port: equal ports mean a reused connection
    script: Script | None = None
    finished: bool = False  # the whole answer was written
    disconnected: bool = False  # the client went away before the answer was complete
    first_piece_at: float | None = None  # time.monotonic() once the first content piece was written
    last_piece_at: float | None = None  # time.monotonic() once the latest content piece was written
    _disconnect: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def wait_disconnected(self, timeout: float = 2.0) -> None:  # noqa: ASYNC109
        """Return once the client closed the connection mid-answer; TimeoutError otherwise."""
        async with asyncio.timeout(timeout):
            await self._disconnect.wait()


class _Cut(Exception):
    """The script drops the connection here."""


class FakeRelayDance:
    """A RelayDance account with one API key, served on a loopback port. See the package docstring."""

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        models: Sequence[str] = MODELS,
        context_limit_chars: int | None = None,
        context_wording: ContextWording = "openai",
    ) -> None:
        self.api_key = api_key
        self.models = list(models)
        self.context_limit_chars = context_limit_chars
        """Refuse a chat request whose messages hold more characters than this, as a model
        refuses one longer than its context window (`Script.context_length()`). None: no limit.
        As OpenAI counts, the window holds the answer too: a request's `max_tokens` (at
        `CHARS_PER_TOKEN` characters a token) counts toward the limit."""
        self.context_wording: ContextWording = context_wording
        """Whose words the refusal uses (see `Script.context_length`)."""
        self.default = Script.echo()
        self.requests: list[Request] = []
        self._scripts: dict[Route, deque[Script]] = {"chat": deque(), "models": deque()}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopping = asyncio.Event()
        self._arrived = asyncio.Condition()

    async def start(self) -> Self:
        """Bind 127.0.0.1 on a free port and start serving."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        # handler_cancellation: a handler learns at once that its client went away, even while
        # it is only sleeping between pieces.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Release hanging handlers and stop serving."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeRelayDance is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """For `RelayDanceClient(base_url=...)`: `http://127.0.0.1:PORT/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and inspection -------------------------------------------------------------

    def push(self, *scripts: Script, route: Route = "chat") -> None:
        """Queue scripts; each request takes the next one (FIFO), then falls back to `default`."""
        self._scripts[route].extend(scripts)

    @property
    def pending(self) -> int:
        """Scripts not played yet (both routes)."""
        return sum(len(queue) for queue in self._scripts.values())

    async def wait_requests(self, count: int, timeout: float = 2.0) -> list[Request]:  # noqa: ASYNC109
        """Wait until at least `count` requests arrived; return them all."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)
        return list(self.requests)

    # -- HTTP handlers ------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Request:
        body: Any = None
        if request.can_read_body:
            try:
                body = json.loads(await request.read())
            except ValueError:
                body = None
        peer = request.transport.get_extra_info("peername") if request.transport else None
        record = Request(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            json=body,
            received_at=time.monotonic(),
            client_port=int(peer[1]) if peer else 0,
        )
        self.requests.append(record)
        async with self._arrived:
            self._arrived.notify_all()
        return record

    def _authorized(self, request: web.Request) -> web.Response | None:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and key == self.api_key:
            return None
        # Echo the key it got, in full: the worst an upstream could do, so tests prove the client
        # keeps it out of its errors anyway.
        message = f"Incorrect API key provided: {key}." if key else "You didn't provide an API key."
        return error_response(401, message, "invalid_request_error", "invalid_api_key")

    async def _models(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        refused = self._authorized(request)
        if refused is not None:
            return refused
        script = self._scripts["models"].popleft() if self._scripts["models"] else None
        record.script = script
        if script is not None and script.kind in ("error", "hang"):
            return await self._play_status(script, record)
        record.finished = True
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models],
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        record = await self._record(request)
        refused = self._authorized(request)
        if refused is not None:
            return refused
        body = record.json
        invalid = invalid_reason(body)
        if invalid:
            return error_response(400, invalid, "invalid_request_error", None)
        if body["model"] not in self.models:
            return error_response(
                404,
                f"The model `{body['model']}` does not exist.",
                "invalid_request_error",
                "model_not_found",
            )
        chars = message_chars(body)
        answer = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else 0
        if (
            self.context_limit_chars is not None
            and chars + answer * CHARS_PER_TOKEN > self.context_limit_chars
        ):
            # Refused before any model runs: a pushed script stays queued for the next request.
            record.script = Script.context_length(
                limit=math.ceil(self.context_limit_chars / CHARS_PER_TOKEN),
                used=math.ceil(chars / CHARS_PER_TOKEN),
                wording=self.context_wording,
            )
            return await self._play_status(record.script, record)
        script = self._scripts["chat"].popleft() if self._scripts["chat"] else self.default
        while script.choose is not None:
            script = script.choose(body)
        if script.calls and not may_call_tools(body):
            # A model cannot call a tool it was not offered: it answers with its text alone.
            script = replace(script, calls=(), finish_reason="stop")
        record.script = script
        if script.kind in ("error", "hang"):
            return await self._play_status(script, record)
        pieces = script.pieces
        if script.kind == "echo":
            last = next(
                (content_text(m["content"]) for m in reversed(body["messages"]) if m["role"] == "user"), ""
            )
            pieces = tuple(words(echo_answer(last)))
            limit = body.get("max_tokens")
            if isinstance(limit, int) and len(pieces) > limit:  # one piece stands for one token
                pieces, script = pieces[:limit], replace(script, finish_reason="length")
        if script.as_json or not body.get("stream"):
            record.finished = True
            if script.json_body is not None:
                return web.json_response(dict(script.json_body))
            text = "".join(piece for piece in pieces if isinstance(piece, str))
            return web.json_response(completion(body["model"], text, script, script.calls))
        if not wants_usage(body):
            script = replace(script, usage=None)  # OpenAI streams usage only when asked for it
        return await self._play_stream(request, record, replace(script, pieces=pieces), body["model"])

    async def _play_status(self, script: Script, record: Request) -> web.StreamResponse:
        if script.kind == "hang":
            try:
                await self._stopping.wait()
            except asyncio.CancelledError:
                self._gone(record)
                raise
            raise web.HTTPServiceUnavailable(text="fake stopping")
        headers = {"Retry-After": script.retry_after} if script.retry_after is not None else {}
        record.finished = True
        if script.body is not None:
            return web.Response(status=script.status, body=script.body, headers=headers)
        return error_response(
            script.status,
            script.error_message,
            script.error_type,
            script.error_code,
            headers,
            param=script.error_param,
        )

    async def _play_stream(
        self, request: web.Request, record: Request, script: Script, model: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        writer = Writer(response, script)
        cid = f"chatcmpl-fake{len(self.requests)}"
        try:
            if script.raw_prefix:
                await writer.raw(script.raw_prefix)
            await writer.event(chunk(cid, model, {"role": "assistant", "content": ""}, None))
            await writer.wait(script.first_delay)
            for index, piece in enumerate(script.pieces):
                if index:
                    await writer.wait(script.pace)
                await self._interrupt(writer, request, script, index)
                if script.comments:
                    await writer.line(": ping")
                await writer.event(piece_event(cid, model, piece))
                record.last_piece_at = time.monotonic()
                if record.first_piece_at is None:
                    record.first_piece_at = record.last_piece_at
            await self._interrupt(writer, request, script, len(script.pieces))
            for number, piece in enumerate(tool_call_chunks(cid, model, script.calls, script)):
                if number or script.pieces:
                    await writer.wait(script.pace)
                await writer.event(piece)
                record.last_piece_at = time.monotonic()
            usage: dict[str, int] | None = None
            if script.usage is not None:
                prompt, completion, total = script.usage
                usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
            if script.finish_reason is not None:
                last = chunk(cid, model, {}, script.finish_reason)
                if usage is not None and script.usage_in_finish:
                    last["usage"], usage = usage, None
                await writer.event(last)
            if usage is not None:
                await writer.event({**chunk(cid, model, {}, None), "choices": [], "usage": usage})
            if script.done:
                await writer.line("data: [DONE]")
                await writer.line("")
            await response.write_eof()
            record.finished = True
        except _Cut:
            pass
        except ConnectionResetError:  # a write found the connection closed
            self._gone(record)
        except asyncio.CancelledError:  # handler_cancellation: the client closed while we slept
            self._gone(record)
            raise
        return response

    async def _interrupt(self, writer: Writer, request: web.Request, script: Script, index: int) -> None:
        """Play `error_after` / `cut_after` once `index` pieces have been sent."""
        if script.error_after == index:
            await writer.event(
                {
                    "error": {
                        "message": script.error_message,
                        "type": script.error_type,
                        "code": script.error_code,
                    }
                }
            )
            await writer.response.write_eof()
            raise _Cut
        if script.cut_after == index:
            if request.transport is not None:
                request.transport.abort()  # no terminating chunk: the body is visibly incomplete
            raise _Cut

    def _gone(self, record: Request) -> None:
        if not self._stopping.is_set():
            record.disconnected = True
            record._disconnect.set()


@pytest.fixture
async def relaydance_fake() -> AsyncIterator[FakeRelayDance]:
    """A started FakeRelayDance, stopped after the test."""
    async with FakeRelayDance() as fake:
        yield fake
