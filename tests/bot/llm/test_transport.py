"""The aiohttp transport against raw loopback servers that misbehave at the byte level.

The client's own tests (run over both stacks by the `http` fixture) cover the happy paths and the
failures the fake RelayDance can stage; these reach what only a hand-written server can: a socket
closed before any answer, a garbled status line, a body cut inside a chunk, a server that goes
silent, a connection pool that is full.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import httpx
import pytest

from bot.llm.transport import AiohttpTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


class RawServer:
    """A loopback TCP server running `handler` per connection; counts connections and closes."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.connections = 0
        self.closed = asyncio.Event()
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1/chat/completions"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self._handler(reader, writer)
        finally:
            writer.close()


async def read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))


async def headers_then_silence(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(OK)
    await writer.drain()
    await asyncio.sleep(5)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session,
        httpx.AsyncClient(transport=AiohttpTransport(session), timeout=httpx.Timeout(2.0)) as http,
    ):
        yield http


async def test_a_connection_closed_before_any_answer_is_a_protocol_error(http: httpx.AsyncClient) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async with RawServer(hang_up) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(server.url, json={"model": "m"})


async def test_a_garbled_status_line_is_a_protocol_error(http: httpx.AsyncClient) -> None:
    async def garble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async with RawServer(garble) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(server.url, json={"model": "m"})


async def test_a_body_cut_inside_a_chunk_is_a_read_error_after_what_arrived(http: httpx.AsyncClient) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK + b"6\r\ndata: \r\n40\r\nonly part")
        await writer.drain()

    async with RawServer(cut) as server:
        received = b""
        with pytest.raises(httpx.ReadError):
            async with http.stream("POST", server.url, json={"model": "m"}) as response:
                async for piece in response.aiter_bytes():
                    received += piece
        assert received.startswith(b"data: ")


async def test_silence_after_the_headers_is_a_read_timeout(http: httpx.AsyncClient) -> None:
    async with RawServer(headers_then_silence) as server:
        with pytest.raises(httpx.ReadTimeout):
            async with http.stream("POST", server.url, json={}, timeout=httpx.Timeout(2.0, read=0.2)) as r:
                await r.aread()


async def test_a_full_pool_is_a_connect_timeout_not_a_hang(http: httpx.AsyncClient) -> None:
    async with RawServer(headers_then_silence) as server:
        async with http.stream("POST", server.url, json={}):  # holds the pool's only connection
            with pytest.raises(httpx.ConnectTimeout):
                await http.post(server.url, json={}, timeout=httpx.Timeout(2.0, pool=0.2))


async def test_closing_an_unfinished_body_drops_the_connection_and_a_finished_one_is_reused(
    http: httpx.AsyncClient,
) -> None:
    disconnected = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(OK + b"5\r\nhello\r\n")
            await writer.drain()
            if await reader.read(1) == b"":  # the client sent nothing more: it hung up mid-body
                disconnected.set()
                return

    async def complete(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(OK + b"5\r\nhello\r\n0\r\n\r\n")
            await writer.drain()

    async with RawServer(serve) as server:
        async with http.stream("POST", server.url, json={}) as response:
            async for _ in response.aiter_bytes():
                break
        await asyncio.wait_for(disconnected.wait(), 2)

    async with RawServer(complete) as server:
        for _ in range(3):
            assert (await http.post(server.url, json={})).text == "hello"
        assert server.connections == 1


async def test_a_url_aiohttp_cannot_send_is_an_unsupported_protocol(http: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        await http.get("ftp://127.0.0.1/v1/models")
