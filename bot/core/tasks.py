"""Run each answer as its own asyncio task, keep references to them, and drain them on shutdown.

A fixed worker pool would queue the 50th mention behind the first 49; one task per answer lets
them all stream at once. The tracker keeps the strong references asyncio requires and logs a
task's crash once, so one failed answer never takes the bot down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskTracker:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self.started = 0
        self.finished = 0
        self._changed = asyncio.Condition()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self.started += 1
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.finished += 1
        asyncio.get_running_loop().create_task(self._notify())
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("task %s failed", task.get_name(), exc_info=exc)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_finished(self, count: int) -> None:
        """Wait until `count` tasks have finished in all (tests and the benchmark use this)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.finished >= count)

    async def drain(self, grace_seconds: float) -> None:
        """Let answers in flight finish (up to `timeout`), then cancel what is left."""
        if not self._tasks:
            return
        log.info("waiting up to %.0f s for %d answers in flight", grace_seconds, len(self._tasks))
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
