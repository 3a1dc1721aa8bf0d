"""The admission gate: a fixed number of answers run, a bounded queue waits in order, the rest are refused."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.admission import AdmissionGate, queued_status


async def test_slots_then_queue_then_refusal_and_first_come_first_served() -> None:
    gate = AdmissionGate(slots=2, queue=2)
    a, b, c, d = (gate.admit() for _ in range(4))
    assert a and b and c and d
    assert (a.running, b.running, c.running, d.running) == (True, True, False, False)
    assert gate.admit() is None and gate.refused == 1
    positions: dict[str, list[int]] = {"c": [], "d": []}
    waits = [
        asyncio.create_task(c.wait(positions["c"].append)),
        asyncio.create_task(d.wait(positions["d"].append)),
    ]
    await asyncio.sleep(0)
    assert positions == {"c": [0], "d": [1]}
    a.release()
    await asyncio.sleep(0)
    assert waits[0].done() and not waits[1].done()
    assert positions["d"] == [1, 0]  # moved up
    b.release()
    await asyncio.gather(*waits)
    assert (gate.running, gate.waiting) == (2, 0)
    c.release()
    c.release()  # twice is harmless
    d.release()
    assert gate.running == 0


async def test_leaving_the_queue_moves_those_behind_up_and_frees_the_place() -> None:
    gate = AdmissionGate(slots=1, queue=2)
    running, first, second = gate.admit(), gate.admit(), gate.admit()
    assert running and first and second
    seen: list[int] = []
    waiting = asyncio.create_task(second.wait(seen.append))
    await asyncio.sleep(0)
    first.release()  # e.g. stopped while queued
    await asyncio.sleep(0)
    assert seen == [1, 0] and gate.waiting == 1
    assert gate.admit() is not None  # its place in the queue is free again
    running.release()
    await waiting
    assert second.running and second.queued


def test_a_ticket_that_never_waited_is_not_queued() -> None:
    ticket = AdmissionGate(slots=1, queue=0).admit()
    assert ticket is not None and ticket.running and not ticket.queued


def test_queued_status_reads_naturally() -> None:
    assert queued_status(0) == "_Queued — next in line…_"
    assert queued_status(1) == "_Queued — 1 answer ahead…_"
    assert queued_status(12) == "_Queued — 12 answers ahead…_"


def test_a_gate_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        AdmissionGate(slots=0, queue=5)


async def test_places_are_told_at_once_then_at_most_every_interval() -> None:
    gate = AdmissionGate(slots=1, queue=10, position_every=0.2)
    tickets = [gate.admit() for _ in range(6)]
    assert all(tickets)
    running, *queued = [t for t in tickets if t is not None]
    last: list[int] = []
    waiting = asyncio.create_task(queued[-1].wait(last.append))
    await asyncio.sleep(0)
    assert last == [4]
    running.release()  # the first move is told at once
    await asyncio.sleep(0)
    assert last == [4, 3]
    queued[0].release()  # two more within the interval: the next answers run, nobody is told yet
    queued[1].release()
    await asyncio.sleep(0)
    assert (queued[1].running, queued[2].running, last) == (True, True, [4, 3])
    await asyncio.sleep(0.3)
    assert last == [4, 3, 1]  # one update with the place as it is now
    for ticket in queued[:-1]:
        ticket.release()
    await waiting
    assert queued[-1].running
