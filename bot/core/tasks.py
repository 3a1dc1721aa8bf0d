"""Every piece of background work the bot runs, in one place: answers and Bolt's listener tasks.

A fixed worker pool would queue the 50th mention behind the first 49; one task per answer lets
them all stream at once. The tracker keeps the strong references asyncio requires, logs a task's
crash once (one failed answer never takes the bot down), drains everything on shutdown, and tells
when the bot is idle: no answer running and no listener still working on an event.

Bolt runs each listener in a task of its own after acknowledging the event; `listener()` wraps a
listener so that task is tracked from its first step, before the acknowledgement reaches Slack.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class TaskTracker:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = 0
        self.finished = 0
        self._changed: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self.started += 1
        self._track(task)
        return task

    def listener(self, fn: F) -> F:
        """`fn`, tracked while it runs (Bolt reads the wrapped function's argument names)."""

        @functools.wraps(fn)
        async def tracked(**kwargs: Any) -> Any:
            task = asyncio.current_task()
            if task is not None and task not in self._tasks:
                self._track(task, own=False)
            return await fn(**kwargs)

        return tracked  # type: ignore[return-value]

    def _track(self, task: asyncio.Task[Any], *, own: bool = True) -> None:
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._done, own=own))

    def _done(self, task: asyncio.Task[Any], *, own: bool) -> None:
        self._tasks.discard(task)
        if own:
            self.finished += 1
            if not task.cancelled() and (exc := task.exception()) is not None:
                log.error("task %s failed", task.get_name(), exc_info=exc)
        if self._changed is not None:
            self._changed.set()

    async def _wait_change(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        self._changed.clear()
        await self._changed.wait()

    async def wait_finished(self, count: int) -> None:
        """Wait until `count` answers have finished in all (tests and the benchmark use this)."""
        while self.finished < count:
            await self._wait_change()

    async def idle(self) -> None:
        """Wait until nothing is running: no answer, no listener. Work started by work (a listener
        spawning an answer) is tracked before its parent ends, so this cannot return early."""
        while True:
            await asyncio.sleep(0)  # let tasks scheduled a moment ago take their first step
            if not self._tasks:
                return
            await self._wait_change()

    async def drain(self, grace_seconds: float) -> None:
        """Let work in flight finish (up to `grace_seconds`), then cancel what is left and wait
        for it to end (an answer ends its message with a note when cancelled)."""
        if not self._tasks:
            return
        log.info("waiting up to %.0f s for %d tasks in flight", grace_seconds, len(self._tasks))
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=10)
