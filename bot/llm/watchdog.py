"""One timer per stream that cancels a read which waited past its deadline.

Why not `asyncio.timeout_at` around every read: a streamed answer is one read per token, and each
`async with asyncio.timeout_at(...)` builds a context manager, schedules a timer on the event
loop's heap and cancels it again - about 14 % of the bot's CPU per streamed token. Here a read
only moves a float (`read()`); the one timer wakes at the earliest deadline it has been given
and, when the deadline has moved on meanwhile, goes back to sleep until the new one. So a stream
that never stalls costs one timer wake-up per idle period, not one timer per token.

Semantics are those of `asyncio.timeout_at` around each read: only time spent waiting inside
`read()` can run out (time the caller spends between reads never counts), the expiry is a
`TimeoutError` raised from `read()`, and a cancellation from anyone else (Stop, shutdown) stays
a `CancelledError`, even when it lands together with the expiry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

__all__ = ["ReadWatchdog"]

T = TypeVar("T")


class ReadWatchdog:
    """Guards the reads of one task; `close()` it when the stream is done (or use `with`)."""

    __slots__ = ("_loop", "_task", "_deadline", "_armed_at", "_handle", "_reading", "_expired")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("ReadWatchdog needs a running task")
        self._task = task
        self._deadline = 0.0
        self._armed_at: float | None = None  # when the timer is due; None when it is not set
        self._handle: asyncio.TimerHandle | None = None
        self._reading = False
        self._expired = False

    def __enter__(self) -> ReadWatchdog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._armed_at = None

    async def read(self, chunks: AsyncIterator[T], deadline: float) -> T | None:
        """The next item of `chunks` (None at its end), or `TimeoutError` at `deadline`
        (an event loop time, as `loop.time()`)."""
        self._deadline = deadline
        if self._armed_at is None or deadline < self._armed_at:
            self._arm(deadline)
        cancelling = self._task.cancelling()
        self._reading = True
        try:
            return await anext(chunks, None)
        except asyncio.CancelledError:
            if self._expired:
                self._expired = False
                # Ours alone (nobody else asked to cancel meanwhile): it is the timeout.
                if self._task.uncancel() <= cancelling:
                    raise TimeoutError from None
            raise
        finally:
            self._reading = False

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        due = self._armed_at
        self._handle = None
        self._armed_at = None
        if not self._reading:
            return  # between reads: the next read arms the timer again for its own deadline
        if due is not None and self._deadline > due:
            self._arm(self._deadline)  # the deadline moved on since the timer was set
            return
        self._expired = True
        self._task.cancel()
