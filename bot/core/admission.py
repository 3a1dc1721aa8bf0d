"""How many answers one process streams at once, and how many may wait for a turn.

A semaphore with a bounded, visible queue: `admit()` either lets an answer in (running or
queued) or refuses it at once when the queue is full, so a flood is told "too busy" instead of
piling up tasks and upstream connections without bound. A queued answer knows its place, so its
placeholder can say how many answers are ahead of it. Slots are handed over first come, first
served. In-process only: each replica has its own gate.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

QUEUED_STATUS = "_Queued — {ahead}…_"


def queued_status(ahead: int) -> str:
    """The placeholder of an answer waiting for a turn, with `ahead` answers queued before it."""
    if ahead == 0:
        return QUEUED_STATUS.format(ahead="next in line")
    return QUEUED_STATUS.format(ahead=f"{ahead} answer{'s' if ahead != 1 else ''} ahead")


class AdmissionGate:
    def __init__(self, *, slots: int, queue: int) -> None:
        if slots < 1 or queue < 0:
            raise ValueError("an admission gate needs at least one slot and a queue of zero or more")
        self._slots = slots
        self._queue_size = queue
        self.running = 0
        self._waiting: deque[Ticket] = deque()
        self.refused = 0  # answers turned away, for logs and tests

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def admit(self) -> Ticket | None:
        """A ticket (running at once, or queued), or None when the queue is full."""
        if self.running < self._slots and not self._waiting:
            self.running += 1
            return Ticket(self, running=True)
        if len(self._waiting) >= self._queue_size:
            self.refused += 1
            return None
        ticket = Ticket(self, running=False)
        self._waiting.append(ticket)
        return ticket

    def _position(self, ticket: Ticket) -> int:
        return self._waiting.index(ticket)

    def _release(self, ticket: Ticket) -> None:
        if ticket.running:
            self.running -= 1
        else:
            self._waiting.remove(ticket)
        while self.running < self._slots and self._waiting:
            first = self._waiting.popleft()
            first.running = True
            self.running += 1
            first.changed.set()
        for waiting in self._waiting:
            waiting.changed.set()  # everyone behind moved up


class Ticket:
    """One answer's place: hold it from `wait()` until `release()` (always release it)."""

    def __init__(self, gate: AdmissionGate, *, running: bool) -> None:
        self._gate = gate
        self.running = running
        self.queued = not running  # it had to wait (its placeholder showed the queue)
        self.released = False
        self.changed = asyncio.Event()

    async def wait(self, on_position: Callable[[int], None]) -> None:
        """Return once the answer may run; `on_position(ahead)` is told its place while it waits."""
        while not self.running:
            on_position(self._gate._position(self))
            self.changed.clear()
            await self.changed.wait()

    def release(self) -> None:
        """Give the slot (or the place in the queue) back; a second call does nothing."""
        if not self.released:
            self.released = True
            self._gate._release(self)
