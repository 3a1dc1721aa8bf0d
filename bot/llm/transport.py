"""An httpx transport that sends RelayDance's requests through aiohttp.

Why: a streamed answer is one small network read per token, and httpx's own stack (httpcore,
h11 and anyio) spends most of the bot's CPU on those reads - 230 ms per 1,000 streamed tokens in
`scripts/bench`, against 125 ms with this transport (aiohttp parses HTTP in C and hands over
whatever bytes have arrived, so a burst of tokens is one read). The `RelayDanceClient` keeps
httpx's API, its typed errors and its tests; only the bytes move differently.

aiohttp's failures are mapped to the httpx exceptions the client already understands, by what
happened rather than by class name alone: a refused connection is a `ConnectError` (so the user
is told the connection failed, not that it was slow), a connection closed before the response a
`RemoteProtocolError` (safe to resend), a cut body a `ReadError`. Cancellation is never mapped.

With a `ReadPacer` a streamed body is read in the pacer's ticks once the client has said its
text is flowing (`response.extensions["read_pacing"]`, see `bot.llm.pacing`); without one, or
before that, every read happens as the bytes arrive.

The transport does not own the aiohttp session it is given; whoever made it closes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx

from bot.llm.pacing import ReadPacer

__all__ = ["AiohttpTransport", "ReadPacing"]


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, session: aiohttp.ClientSession, *, pacer: ReadPacer | None = None) -> None:
        self._session = session
        self._pacer = pacer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        with _mapped(connecting=True):
            response = await self._session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=await request.aread() or None,
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes by Content-Encoding, as with its own stack
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        body = _Body(response, self._pacer)
        extensions: dict[str, object] = {
            "http_version": b"HTTP/1.1",
            "reason_phrase": (response.reason or "").encode(),
        }
        if self._pacer is not None:
            extensions["read_pacing"] = body
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=body,
            request=request,
            extensions=extensions,
        )


class ReadPacing:
    """What a client may do with `response.extensions["read_pacing"]`."""

    def start(self) -> None:
        """From now on, read the body in the pacer's ticks."""

    def stop(self) -> None:
        """Read the rest as it arrives (e.g. only the end of the body is left)."""


class _Body(httpx.AsyncByteStream, ReadPacing):
    def __init__(self, response: aiohttp.ClientResponse, pacer: ReadPacer | None) -> None:
        self._response = response
        self._pacer = pacer
        self._transport: asyncio.Transport | None = None  # set while paced

    def start(self) -> None:
        if self._pacer is None or self._transport is not None:
            return
        connection = self._response.connection
        transport = None if connection is None else connection.transport
        if isinstance(transport, asyncio.Transport):
            self._transport = transport
            self._pacer.opened()

    def stop(self) -> None:
        if self._pacer is not None and self._transport is not None:
            self._pacer.release(self._transport)
            self._pacer.closed()
            self._transport = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(connecting=False):
            async for chunk in self._response.content.iter_any():
                yield chunk
                if self._transport is not None and self._pacer is not None:
                    self._pacer.hold(self._transport)  # the next read waits for the tick

    async def aclose(self) -> None:
        self.stop()  # a connection going back to the pool must not stay paused
        # An unfinished body closes the connection (the upstream sees the disconnect and stops
        # generating); a finished one goes back to the pool.
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


@contextmanager
def _mapped(*, connecting: bool) -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientConnectorError as exc:  # refused, unreachable, DNS, TLS handshake
        raise httpx.ConnectError(str(exc)) from exc
    except aiohttp.ServerTimeoutError as exc:  # aiohttp's own socket timeouts (also TimeoutError)
        error = httpx.ConnectTimeout if connecting else httpx.ReadTimeout
        raise error(str(exc) or "timed out") from exc
    except aiohttp.ServerDisconnectedError as exc:  # closed before (or while) answering
        raise httpx.RemoteProtocolError(str(exc) or "server disconnected") from exc
    except aiohttp.ClientPayloadError as exc:  # the body was cut or malformed
        raise httpx.ReadError(str(exc)) from exc
    except aiohttp.ClientResponseError as exc:  # an unparsable status line or headers
        raise httpx.RemoteProtocolError(str(exc)) from exc
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:  # a scheme aiohttp cannot send
        raise httpx.UnsupportedProtocol(str(exc)) from exc
    except aiohttp.ClientError as exc:  # resets and other OS-level failures
        raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
