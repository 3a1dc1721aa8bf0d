"""How many answers one process streams at once, and how many may wait for a turn.

A semaphore with a bounded, visible queue: `admit()` either lets an answer in (running or
queued) or refuses it at once when the queue is full, so a flood is told "too busy" instead of
piling up tasks and upstream connections without bound. A queued answer knows its place, so its
placeholder can say how many answers are ahead of it. Slots are handed over first come, first
served. In-process only: each replica has its own gate.

The queue's places are brought up to date at most every `POSITION_EVERY` seconds: waking every
waiter at every release (each then looking up its place in the queue, and its placeholder asking
Slack for an edit) cost O(n²) with a long queue. 1,000 questions at once with the default 100
running and 500 queued made 17,874 `chat.update` calls in 400 s, most of them queue places.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

QUEUED_STATUS = "_Queued — {ahead}…_"
POSITION_EVERY = 5.0  # seconds between two updates of the waiting answers' places


def queued_status(ahead: int) -> str:
    """The placeholder of an answer waiting for a turn, with `ahead` answers queued before it."""
    if ahead == 0:
        return QUEUED_STATUS.format(ahead="next in line")
    return QUEUED_STATUS.format(ahead=f"{ahead} answer{'s' if ahead != 1 else ''} ahead")


class AdmissionGate:
    def __init__(
        self,
        *,
        slots: int,
        queue: int,
        position_every: float = POSITION_EVERY,
    ) -> None:
        if slots < 1 or queue < 0:
            raise ValueError("an admission gate needs at least one slot and a queue of zero or more")
        self._slots = slots
        self._queue_size = queue
        self.running = 0
        self._waiting: deque[Ticket] = deque()
        self.refused = 0  # answers turned away, for logs and tests
        self._position_every = position_every
        self._told_at = -position_every  # when the waiting answers were last told their places
        self._telling: asyncio.TimerHandle | None = None

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
        if self._waiting and self._telling is None:  # everyone behind moved up: tell them, soon
            due = self._told_at + self._position_every - time.monotonic()
            if due <= 0:
                self._tell()
            else:
                self._telling = asyncio.get_running_loop().call_later(due, self._tell)

    def _tell(self) -> None:
        self._telling = None
        self._told_at = time.monotonic()
        for waiting in self._waiting:
            waiting.changed.set()


class Ticket:
    """One answer's place: hold it from `wait()` until `release()` (always release it)."""

    def __init__(self, gate: AdmissionGate, *, running: bool) -> None:
        self._gate = gate
        self.running = running
        self.queued = not running  # it had to wait (its placeholder showed the queue)
        self.released = False
        self.changed = asyncio.Event()

    async def wait(self, on_position: Callable[[int], None]) -> None:
        """Return once the answer may run; `on_position(ahead)` is told its place while it waits
        (when it changed, and at most every `POSITION_EVERY` seconds after the first time)."""
        told: int | None = None
        while not self.running:
            ahead = self._gate._position(self)
            if ahead != told:
                on_position(ahead)
                told = ahead
            self.changed.clear()
            await self.changed.wait()

    def release(self) -> None:
        """Give the slot (or the place in the queue) back; a second call does nothing."""
        if not self.released:
            self.released = True
            self._gate._release(self)
