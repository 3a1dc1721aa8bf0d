"""Start a private `redis-server` when no REDIS_URL is given, so a newcomer needs no separate service.

The server listens only on a unix socket inside the state folder (no TCP port to collide with or
expose) and keeps an append-only file there, so history survives a restart of the bot. The test
suite uses the same class to start its own throwaway server.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path

from bot.errors import ConfigError

log = logging.getLogger(__name__)


class EmbeddedRedis:
    """A redis-server child process bound to a unix socket under `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        *,
        persistent: bool = True,
        executable: str | None = None,
        modules: tuple[Path, ...] = (),
    ) -> None:
        """`modules` are loaded at start (the tests and the benchmark give it RediSearch)."""
        self.data_dir = data_dir.resolve()
        self.persistent = persistent
        self.modules = modules
        self._executable = executable
        self._process: asyncio.subprocess.Process | None = None
        self._socket_dir: str | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def socket_path(self) -> Path:
        # A unix socket path must stay under ~100 bytes, so it lives in a short temp dir when
        # the data folder is deep.
        candidate = self.data_dir / "redis.sock"
        if len(str(candidate)) < 100:
            return candidate
        if self._socket_dir is None:
            self._socket_dir = tempfile.mkdtemp(prefix="rdbot-")
        return Path(self._socket_dir) / "redis.sock"

    def arguments(self) -> list[str]:
        """redis-server's command-line options (the test suite starts the same server synchronously)."""
        return [
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
            *(arg for module in self.modules for arg in ("--loadmodule", str(module))),
        ]  # fmt: skip

    async def start(self, wait_seconds: float = 10.0) -> str:
        executable = self._executable or shutil.which("redis-server")
        if executable is None:
            raise ConfigError(
                "REDIS_URL",
                "is unset and no redis-server was found on PATH; install Redis "
                "(e.g. apt-get install redis-server) or point REDIS_URL at a server",
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        socket = self.socket_path
        socket.unlink(missing_ok=True)
        args = self.arguments()
        self._process = await asyncio.create_subprocess_exec(
            executable,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while not socket.exists():
            if self._process.returncode is not None or loop.time() > deadline:
                await self.stop()
                raise ConfigError(
                    "REDIS_URL",
                    f"is unset and the embedded redis-server did not start "
                    f"(see {self.data_dir / 'redis.log'})",
                )
            await asyncio.sleep(0.02)
        log.info(
            "REDIS_URL is unset: started an embedded redis-server at %s (data in %s)", self.url, self.data_dir
        )
        return self.url

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
