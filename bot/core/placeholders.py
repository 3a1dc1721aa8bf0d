"""Placeholders first: under a burst of questions, an answer whose placeholder is up waits (a
short while at most) until the placeholders still due in this process are up too.

A person who asked sees nothing until the placeholder lands, while one whose answer is building
already sees it. On one event loop the steps of all answers take turns, so without this the
thousandth placeholder waits behind the history reads, model requests and edits of the first
nine hundred answers (measured: event → placeholder p99 2.9 s for 1,000 at once on 2 cores).
This orders work within a process only; nothing correct depends on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

MAX_WAIT_SECONDS = 1.0  # under a sustained burst the answers must still go on


class PlaceholdersFirst:
    def __init__(self, max_wait_seconds: float = MAX_WAIT_SECONDS) -> None:
        self._max_wait = max_wait_seconds
        self._due = 0
        self._none_due = asyncio.Event()
        self._none_due.set()

    @property
    def due(self) -> int:
        return self._due

    @contextmanager
    def pending(self) -> Iterator[Callable[[], None]]:
        """An answer whose placeholder is not up yet: call the function it gives once it is (or
        leave the block: an answer that posts nothing is not waited for)."""
        waiting = True
        self._due += 1
        self._none_due.clear()

        def posted() -> None:
            nonlocal waiting
            if waiting:
                waiting = False
                self._due -= 1
                if not self._due:
                    self._none_due.set()

        try:
            yield posted
        finally:
            posted()

    async def wait(self) -> None:
        """Until no placeholder is due here, or `max_wait_seconds` have passed."""
        if self._due:
            with suppress(TimeoutError):
                async with asyncio.timeout(self._max_wait):
                    await self._none_due.wait()
