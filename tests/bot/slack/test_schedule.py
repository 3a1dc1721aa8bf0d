"""The scheduler's order on a fake clock: who gets the next token, what is kept back, holds, probes.

The budget runs on the fake clock; a test moves it on and nudges the scheduler, which decides
again at once (a real wait would only cap how long a decision sleeps).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.slack.schedule import CATCH_UP, FINAL, FINALS_AT_ONCE, FIRST, STATUS, EditScheduler, MemoryBudget
from bot.text import rates
from bot.text.rates import UPDATE, LocalBuckets, Tier

KEY = ("T1", UPDATE, "")
ONE_PER_SECOND = Tier(60, 60, 1)  # one a second; the 60 s window never binds here


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def scheduler(tier: Tier = ONE_PER_SECOND) -> tuple[EditScheduler, LocalBuckets, Clock]:
    clock = Clock()
    buckets = LocalBuckets(tiers={UPDATE: tier}, clock=clock)
    return EditScheduler(MemoryBudget(buckets), clock=clock), buckets, clock


class Grants:
    """Waiters on one scheduler, recording the order in which they were let through."""

    def __init__(self, sched: EditScheduler) -> None:
        self.sched = sched
        self.order: list[str] = []
        self.tasks: list[asyncio.Task[None]] = []

    def want(self, name: str, rank: Callable[[], tuple[int, float]]) -> None:
        async def run() -> None:
            await self.sched.slot(KEY, rank)
            self.order.append(name)

        self.tasks.append(asyncio.create_task(run()))

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    async def tick(self, clock: Clock, seconds: float = 1.0) -> None:
        clock.now += seconds
        self.sched.nudge("T1")
        await self.settle()


async def drained(sched: EditScheduler) -> None:
    await sched.slot(KEY, lambda: (FIRST, 0.0))  # the burst of 1 is spent


async def test_first_content_then_final_edits_then_catching_up() -> None:
    sched, _, clock = scheduler()
    await drained(sched)
    grants = Grants(sched)
    grants.want("catch-up", lambda: (CATCH_UP, 1.0))
    grants.want("final", lambda: (FINAL, 50.0))
    grants.want("first", lambda: (FIRST, 90.0))
    await grants.settle()
    assert grants.order == []
    for _ in range(3):
        await grants.tick(clock)
    assert grants.order == ["first", "final", "catch-up"]


async def test_a_placeholders_new_words_come_after_every_answers_text() -> None:
    sched, _, clock = scheduler()
    await drained(sched)
    grants = Grants(sched)
    grants.want("queue place", lambda: (STATUS, 1.0))  # waiting longest, and still last
    grants.want("catch-up", lambda: (CATCH_UP, 50.0))
    grants.want("first", lambda: (FIRST, 90.0))
    await grants.settle()
    for _ in range(3):
        await grants.tick(clock)
    assert grants.order == ["first", "catch-up", "queue place"]


async def test_a_placeholders_new_words_keep_a_token_for_each_answer_in_flight() -> None:
    sched, _, clock = scheduler(Tier(60, 60, 2))
    sched.opened("T1")
    grants = Grants(sched)
    grants.want("status 1", lambda: (STATUS, 1.0))
    await grants.settle()
    grants.want("status 2", lambda: (STATUS, 2.0))
    await grants.settle()
    assert grants.order == ["status 1"]  # the last token is owed to the answer in flight
    sched.closed("T1")
    await grants.tick(clock, 0.0)
    assert grants.order == ["status 1", "status 2"]


async def test_the_answer_furthest_behind_catches_up_first() -> None:
    sched, _, clock = scheduler()
    await drained(sched)
    grants = Grants(sched)
    grants.want("recent", lambda: (CATCH_UP, 99.0))
    grants.want("behind", lambda: (CATCH_UP, 97.0))
    await grants.settle()
    await grants.tick(clock)
    assert grants.order == ["behind"]


async def test_streams_share_the_budget_in_turns() -> None:
    sched, _, clock = scheduler()
    await drained(sched)
    since = {"a": 90.0, "b": 91.0, "c": 92.0}
    order: list[str] = []

    async def stream(name: str) -> None:
        for _ in range(3):
            await sched.slot(KEY, lambda: (CATCH_UP, since[name]))
            order.append(name)
            since[name] = clock.now  # all its text is shown; new text arrives at once

    tasks = [asyncio.create_task(stream(n)) for n in since]
    grants = Grants(sched)
    for _ in range(9):
        await grants.tick(clock)
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c"] * 3


async def test_an_answer_that_finishes_while_waiting_moves_up() -> None:
    sched, _, clock = scheduler()
    await drained(sched)
    state = {"urgency": CATCH_UP}
    grants = Grants(sched)
    grants.want("other", lambda: (CATCH_UP, 1.0))
    grants.want("finishing", lambda: (state["urgency"], 50.0))
    await grants.settle()
    state["urgency"] = FINAL
    await grants.tick(clock)
    assert grants.order == ["finishing"]


async def test_catching_up_keeps_a_token_for_each_answer_in_flight() -> None:
    sched, buckets, clock = scheduler(Tier(60, 60, 3))
    sched.opened("T1")
    sched.opened("T1")
    grants = Grants(sched)
    grants.want("catch-up 1", lambda: (CATCH_UP, 1.0))
    await grants.settle()
    grants.want("catch-up 2", lambda: (CATCH_UP, 2.0))
    await grants.settle()
    assert grants.order == ["catch-up 1"]  # 2 tokens left: both are owed to final edits
    grants.want("final", lambda: (FINAL, 3.0))
    await grants.settle()
    assert grants.order == ["catch-up 1", "final"]
    sched.closed("T1")
    sched.closed("T1")
    sched.closed("T1")  # more closes than opens are harmless
    await grants.tick(clock, 0.0)
    assert grants.order == ["catch-up 1", "final", "catch-up 2"]


async def test_a_429_holds_every_waiter_for_retry_after_and_slows_the_rate() -> None:
    sched, buckets, clock = scheduler(Tier(60, 60, 2))
    await sched.penalize(KEY, 5.0)
    assert sched.rate_limited == 1
    grants = Grants(sched)
    grants.want("first", lambda: (FIRST, 1.0))
    await grants.tick(clock, 4.9)
    assert grants.order == []
    await grants.tick(clock, 0.2)
    assert grants.order == ["first"]
    state = buckets.state(KEY)
    assert state is not None and state.rate == pytest.approx(rates.LOWER)


async def test_after_a_clean_while_the_rate_probes_upward() -> None:
    sched, buckets, clock = scheduler(ONE_PER_SECOND)
    await drained(sched)
    clock.now += rates.PROBE_AFTER
    await drained(sched)
    state = buckets.state(KEY)
    assert state is not None and state.rate == pytest.approx(rates.PROBE_STEP)


async def test_a_queue_head_that_is_cancelled_hands_over() -> None:
    sched, _, clock = scheduler()
    await drained(sched)
    grants = Grants(sched)
    grants.want("cancelled", lambda: (FIRST, 1.0))
    grants.want("next", lambda: (CATCH_UP, 1.0))
    await grants.settle()
    grants.tasks[0].cancel()
    await grants.tick(clock)
    assert grants.order == ["next"]


class ScriptedBudget:
    """A budget that answers every ask with `wait` (0: granted) after `delay` seconds, recording
    what each ask said and how many overlapped."""

    def __init__(self, *, wait: float = 0.0, delay: float = 0.0) -> None:
        self.wait = wait
        self.delay = delay
        self.asked: list[tuple[str, float, float | None]] = []
        self.in_flight = 0
        self.most = 0

    async def take(
        self,
        key: tuple[str, str, str],
        *,
        keep: float = 0.0,
        holder: str = "",
        active: int = 0,
        behind: float | None = None,
    ) -> float:
        self.asked.append((key[1], keep, behind))
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.in_flight -= 1
        return self.wait

    async def penalize(self, key: tuple[str, str, str], retry_after: float) -> None:
        raise AssertionError("not expected")


async def test_equally_urgent_calls_ask_the_budget_together_catching_up_one_at_a_time() -> None:
    budget = ScriptedBudget(delay=0.01)  # a round trip
    sched = EditScheduler(budget)
    await asyncio.gather(*(sched.slot(KEY, lambda: (FIRST, 1.0)) for _ in range(10)))
    assert budget.most == 10  # fifty placeholders do not wait for each other's round trips
    budget.most = 0
    await asyncio.gather(*(sched.slot(KEY, lambda: (CATCH_UP, 1.0)) for _ in range(5)))
    assert budget.most == 1  # the one furthest behind asks; the others wait their turn


async def test_appends_keep_nothing_and_catch_ups_say_how_far_behind_they_are() -> None:
    """A stream ends with chat.stopStream (its own bucket): its appends keep no token for it. A
    catch-up tells the shared budget how long its text has waited, so that the replica whose
    head is furthest behind goes first; first content and final edits do not queue that way."""
    clock = Clock()
    asks = ScriptedBudget()
    sched = EditScheduler(asks, clock=clock)
    sched.opened("T1")
    await sched.slot(("T1", rates.APPEND, ""), lambda: (CATCH_UP, 97.0))
    await sched.slot(KEY, lambda: (CATCH_UP, 99.0))
    await sched.slot(KEY, lambda: (FINAL, 99.0))
    assert asks.asked == [(rates.APPEND, 0, 3.0), (UPDATE, 1, 1.0), (UPDATE, 0, None)]


@pytest.mark.parametrize(("urgency", "again"), [(FIRST, 1), (FINAL, 10)])
async def test_once_refused_only_the_head_asks_again_for_first_content(urgency: int, again: int) -> None:
    budget = ScriptedBudget(wait=10.0)  # a token in ten seconds
    sched = EditScheduler(budget)
    grants = Grants(sched)
    for i in range(10):
        grants.want(f"a{i}", lambda: (urgency, 1.0))
    await grants.settle()
    before = len(budget.asked)
    sched.nudge("T1")  # as a grant elsewhere, a rank change or another replica's release would
    await grants.settle()
    # Thirty placeholders for a channel's one post a second would otherwise each ask again at
    # every grant and every re-ask; final edits still ask together (who goes first matters there).
    assert len(budget.asked) - before == again
    for task in grants.tasks:
        task.cancel()
    await asyncio.gather(*grants.tasks, return_exceptions=True)
    assert grants.order == []


async def test_once_refused_at_most_twenty_final_edits_ask_together_the_longest_finished_first() -> None:
    budget = ScriptedBudget(wait=10.0)
    sched = EditScheduler(budget)
    grants = Grants(sched)
    for i in range(50):
        grants.want(f"a{i}", lambda i=i: (FINAL, 100.0 - i))  # the last one finished first
    await grants.settle()
    before = len(budget.asked)
    sched.nudge("T1")
    await grants.settle()
    assert len(budget.asked) - before == FINALS_AT_ONCE
    asking = sched._asking[KEY]  # noqa: SLF001 - who the scheduler let ask
    assert sorted(w.key()[1] for w in asking) == [100.0 - i for i in range(49, 29, -1)]
    for task in grants.tasks:
        task.cancel()
    await asyncio.gather(*grants.tasks, return_exceptions=True)


async def test_a_long_queue_is_ordered_once_per_change_not_once_per_waiter() -> None:
    # 300 answers waiting for their first content: each grant and each arrival orders the queue
    # once; every waiter ordering it for itself at each wake-up read ranks 300 x 300 times a round.
    sched, _, clock = scheduler()
    await drained(sched)
    reads = 0

    def rank(since: float) -> Callable[[], tuple[int, float]]:
        def read() -> tuple[int, float]:
            nonlocal reads
            reads += 1
            return (FIRST, since)

        return read

    grants = Grants(sched)
    for i in range(300):
        grants.want(f"a{i}", rank(float(i)))
    await grants.settle()
    for _ in range(5):
        await grants.tick(clock)
    assert grants.order == [f"a{i}" for i in range(5)]  # oldest first, one a second
    assert reads < 300 * 30  # (each waiter choosing for itself: ~97,000 here)
    for task in grants.tasks:
        task.cancel()
    await asyncio.gather(*grants.tasks, return_exceptions=True)
