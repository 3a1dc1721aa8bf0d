"""Spend the workspace's Slack budget where a person notices most.

Every Slack call a streaming answer makes first asks `EditScheduler.slot()`. Calls that wait for
the same bucket (team, method family, channel) queue in this process, and only the most urgent
ask the budget (shared by every replica, `bot.stores.budget`):
1. the first content of a new answer (and placeholders): someone is watching "Thinking…";
2. the final edit of a finished answer: the model is done, the message should be too;
3. the answer whose visible text is furthest behind its stream (its oldest unshown text arrived
   first): fair shares without a fixed interval, so a lone answer is edited as often as the
   budget allows and, when many stream at once, each gets its turn;
4. a placeholder's new words before any text (its place in the queue, "Searching #ops…"): a
   nicety, never at the cost of someone's answer (as first content, 500 queued placeholders
   took the budget from the answers streaming).
Intermediate edits (3, 4) leave one token per answer in flight (in every replica: each reports its
count with its asks) for the final edits, so the ends of
answers are not stuck behind the middles of others. Across replicas, each queue head catching up
reports how long its text has waited, and the budget lets the head furthest behind go first
(else the replica that happens to ask first would starve the other's answers). A 429
(`penalize`) holds the bucket for everyone for Retry-After. Each answer has at most one call in
flight (its renderer awaits the slot, then the call), and whatever text arrived while it waited
goes into that one call.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.text.rates import APPEND, Key, LocalBuckets

FIRST, FINAL, CATCH_UP, STATUS = 0, 1, 2, 3  # urgency classes, most urgent first
MAX_WAIT = 1.0  # a queue head re-asks at least this often (another replica may have freed the hold)
FINALS_AT_ONCE = 20  # final edits asking the budget together once it has refused their bucket

Rank = tuple[int, float, int]


class Budget(Protocol):
    async def take(  # 0 = granted, else the wait; `holder` reports its `active` answers in flight
        self, key: Key, *, keep: float = 0.0, holder: str = "", active: int = 0, behind: float | None = None
    ) -> float: ...

    async def penalize(self, key: Key, retry_after: float) -> None: ...


class MemoryBudget:
    """A process-local budget (tests, and a bot built without Redis)."""

    def __init__(self, buckets: LocalBuckets | None = None) -> None:
        self.buckets = buckets or LocalBuckets()

    async def take(
        self, key: Key, *, keep: float = 0.0, holder: str = "", active: int = 0, behind: float | None = None
    ) -> float:
        return self.buckets.take(key, keep=keep)  # one process: its own queue orders the heads

    async def penalize(self, key: Key, retry_after: float) -> None:
        self.buckets.penalize(key, retry_after)


@dataclass(eq=False)
class _Waiter:
    rank: Callable[[], tuple[int, float]]
    seq: int
    woken: asyncio.Event = field(default_factory=asyncio.Event)

    def key(self) -> Rank:
        urgency, since = self.rank()
        return (urgency, since, self.seq)


def _first(pair: tuple[Rank, _Waiter]) -> Rank:
    return pair[0]


class EditScheduler:
    """One per process, shared by every answer; see the module docstring for the order."""

    def __init__(self, budget: Budget | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget: Budget = budget or MemoryBudget()
        self.clock = clock
        self.rate_limited = 0  # 429s seen, for logs and tests
        self._queues: dict[Key, list[_Waiter]] = {}
        self._asking: dict[Key, set[_Waiter]] = {}  # who may ask now, chosen by `_choose`
        self._changed: set[Key] = set()  # queues to choose for at the loop's next turn
        self._choosing: asyncio.Handle | None = None
        self._active: dict[str, int] = {}  # team -> answers streaming, each owed a final edit
        self._starved: set[Key] = set()  # refused since its queue formed: first content asks head only
        self._seq = itertools.count()
        self.holder = uuid.uuid4().hex  # this process, to the replicas' shared budget

    def opened(self, team: str) -> None:
        self._active[team] = self._active.get(team, 0) + 1

    def closed(self, team: str) -> None:
        left = self._active.get(team, 0) - 1
        if left > 0:
            self._active[team] = left
        else:
            self._active.pop(team, None)

    async def slot(self, key: Key, rank: Callable[[], tuple[int, float]]) -> None:
        """Return when this call may go to Slack. `rank()` -> (urgency class, since), read afresh
        at every decision, so an answer that finishes while it waits moves up at once."""
        waiter = _Waiter(rank, next(self._seq))
        queue = self._queues.setdefault(key, [])
        queue.append(waiter)
        self._wake(key)
        try:
            while True:
                waiter.woken.clear()
                if waiter not in self._asking.get(key, ()):
                    await waiter.woken.wait()
                    continue
                urgency, since = rank()
                active = self._active.get(key[0], 0)
                catching_up = urgency == CATCH_UP
                # Appends keep nothing: a stream's end is a chat.stopStream, from its own bucket.
                keep = active if urgency >= CATCH_UP and key[1] != APPEND else 0
                behind = max(0.0, self.clock() - since) if catching_up else None
                wait = await self.budget.take(
                    key, keep=keep, holder=self.holder, active=active, behind=behind
                )
                if wait <= 0:
                    return
                if key not in self._starved:
                    self._starved.add(key)
                    self._asking[key] = set(self._askers(key))  # first content: the head alone now
                try:
                    async with asyncio.timeout(min(wait, MAX_WAIT)):
                        await waiter.woken.wait()
                except TimeoutError:
                    self._wake(key)  # ranks move with time: choose again before asking again
        finally:
            queue.remove(waiter)
            if not queue:
                del self._queues[key]
                self._asking.pop(key, None)
                self._starved.discard(key)
            else:
                self._wake(key)

    async def try_slot(self, key: Key, *, keep: int = 0) -> bool:
        """One ask of the budget, without queueing: may this call go now, leaving `keep` tokens?
        For choices that have another way (a native stream or post-and-edit), where waiting
        would be the worse one."""
        if self._queues.get(key):
            return False  # others already wait for this bucket
        # No holder report: `keep` here counts what this caller owes, not answers in flight.
        return await self.budget.take(key, keep=keep) <= 0

    def nudge(self, team: str) -> None:
        """Something's rank changed (e.g. an answer finished): let the queues decide again."""
        for key in [k for k in self._queues if k[0] == team]:
            self._wake(key)

    async def penalize(self, key: Key, retry_after: float) -> None:
        self.rate_limited += 1
        await self.budget.penalize(key, retry_after)

    def _askers(self, key: Key) -> list[_Waiter]:
        """Who may ask the budget now: the queue's head; for first content and final edits, every
        waiter of the head's class (each is as urgent, and asking one by one would put a Redis
        round trip per waiter between fifty placeholders). Once the budget refused a bucket, only
        the head asks for first content until the queue is gone: thirty placeholders waiting for
        a channel's one post a second each asked again at every grant and every re-ask (~60
        refused Lua calls a second). Final edits keep asking together, which of them gets a
        token first deciding how long each waits after its last token, but at most
        `FINALS_AT_ONCE` of them, the longest finished first: 1,000 answers finishing at Slack's
        50 edits a minute made 1,000 refused Lua calls at every wake (a third of the bot's CPU)."""
        queue = self._queues.get(key)
        if not queue:
            return []
        keyed = [(waiter.key(), waiter) for waiter in queue]  # each rank read once per choice
        head_key, head = min(keyed, key=_first)
        urgency = head_key[0]
        starved = key in self._starved
        if urgency >= CATCH_UP or (urgency == FIRST and starved):
            return [head]
        same = [pair for pair in keyed if pair[0][0] == urgency]
        if urgency == FINAL and starved and len(same) > FINALS_AT_ONCE:
            same = heapq.nsmallest(FINALS_AT_ONCE, same, key=_first)
        return [waiter for _, waiter in same]

    def _wake(self, key: Key) -> None:
        """Choose who may ask, once for the whole queue and once per turn of the event loop
        however many waiters came, went or changed rank meanwhile, and wake them. (Each waiter
        choosing for itself at every wake-up read every rank of a queue once per waiter: with
        1,000 answers waiting, millions of reads.)"""
        self._changed.add(key)
        if self._choosing is None:
            self._choosing = asyncio.get_running_loop().call_soon(self._choose)

    def _choose(self) -> None:
        self._choosing = None
        changed, self._changed = self._changed, set()
        for key in changed:
            if key not in self._queues:
                continue
            askers = self._askers(key)
            self._asking[key] = set(askers)
            for waiter in askers:
                waiter.woken.set()
