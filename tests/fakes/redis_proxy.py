"""A TCP hop in front of the test Redis that can make the network slow, or cut it.

Races between replicas and slow calls are properties of the network, so tests make the network
misbehave rather than the bot's own code: `chunk` forwards what clients send a few bytes at a
time (a pipeline then reaches Redis as several reads, so another client's commands can land in
between, as they can on a busy network); `latency` holds every reply back, `stall()` only the
next few (Redis has run the command, the client does not hear so in time); `cut()` drops every
connection and refuses new ones until `heal()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self
from urllib.parse import urlparse


class RedisProxy:
    def __init__(self, upstream_url: str) -> None:
        self._upstream = urlparse(upstream_url)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.chunk: int | None = None  # forward what clients send this many bytes at a time
        self.chunk_delay = 0.0  # pause between those pieces
        self.latency = 0.0  # added before every reply is passed on
        self.attempts = 0  # client connections made to the proxy, refused ones included
        self._stalls: list[float] = []
        self._cut = False

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
        self._drop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        db = self._upstream.path.strip("/") if self._upstream.scheme != "unix" else ""
        return f"redis://127.0.0.1:{port}/{db or 0}"

    def cut(self) -> None:
        """Drop every connection and refuse new ones: Redis is unreachable."""
        self._cut = True
        self._drop()

    def heal(self) -> None:
        self._cut = False

    def stall(self, seconds: float, replies: int = 1) -> None:
        """Hold the next `replies` replies (on any connection) back for `seconds` each."""
        self._stalls.extend([seconds] * replies)

    def _drop(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._upstream.scheme == "unix":
            return await asyncio.open_unix_connection(self._upstream.path)
        return await asyncio.open_connection(self._upstream.hostname, self._upstream.port or 6379)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts += 1
        if self._cut:
            writer.close()
            return
        up_reader, up_writer = await self._open_upstream()
        self._writers.update((writer, up_writer))
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, upstream=True)),
            asyncio.create_task(self._pump(up_reader, writer, upstream=False)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._tasks.difference_update(pumps)
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if not upstream and (self._stalls or self.latency):
                    await asyncio.sleep(self._stalls.pop(0) if self._stalls else self.latency)
                size = self.chunk if upstream and self.chunk else len(data)
                for start in range(0, len(data), size):
                    writer.write(data[start : start + size])
                    await writer.drain()
                    if upstream and self.chunk and self.chunk_delay:
                        await asyncio.sleep(self.chunk_delay)
