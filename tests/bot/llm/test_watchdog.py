"""`ReadWatchdog`: the semantics of `asyncio.timeout_at` around each read, with one timer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.llm.watchdog import ReadWatchdog


async def paced(items: list[str], gaps: list[float]) -> AsyncIterator[str]:
    for item, gap in zip(items, gaps, strict=True):
        await asyncio.sleep(gap)
        yield item


async def read_all(source: AsyncIterator[str], *, allowed: float, between: float = 0.0) -> list[str]:
    loop = asyncio.get_running_loop()
    got: list[str] = []
    with ReadWatchdog() as watchdog:
        while (item := await watchdog.read(source, loop.time() + allowed)) is not None:
            got.append(item)
            if between:
                await asyncio.sleep(between)
    return got


async def test_items_pass_through_and_the_end_is_none() -> None:
    assert await read_all(paced(["a", "b", "c"], [0, 0, 0]), allowed=1.0) == ["a", "b", "c"]


async def test_a_read_waiting_past_its_deadline_times_out_and_leaves_the_task_uncancelled() -> None:
    with pytest.raises(TimeoutError):
        await read_all(paced(["a", "b"], [0, 1.0]), allowed=0.1)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0)  # nothing left to cancel us


async def test_steady_reads_move_the_deadline_on() -> None:
    # 8 reads 0.05 s apart take longer than one deadline (0.15 s), and none waits that long.
    items = [str(i) for i in range(8)]
    assert await read_all(paced(items, [0.05] * 8), allowed=0.15) == items


async def test_time_between_reads_does_not_count() -> None:
    assert await read_all(paced(["a", "b"], [0, 0]), allowed=0.1, between=0.25) == ["a", "b"]


async def test_an_earlier_deadline_than_the_timer_is_honoured() -> None:
    loop = asyncio.get_running_loop()
    source = paced(["a", "b"], [0, 1.0])
    with ReadWatchdog() as watchdog:
        assert await watchdog.read(source, loop.time() + 30) == "a"
        started = loop.time()
        with pytest.raises(TimeoutError):
            await watchdog.read(source, loop.time() + 0.1)
        assert loop.time() - started < 0.9


async def test_a_cancel_from_outside_stays_a_cancel() -> None:
    reading = asyncio.Event()

    async def slow() -> AsyncIterator[str]:
        reading.set()
        await asyncio.sleep(10)
        yield "never"

    task = asyncio.create_task(read_all(slow(), allowed=5.0))
    await reading.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancel_landing_with_the_expiry_stays_a_cancel() -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.05

    async def slow() -> AsyncIterator[str]:
        await asyncio.sleep(10)
        yield "never"

    async def reader() -> None:
        with ReadWatchdog() as watchdog:
            await watchdog.read(slow(), deadline)

    task = asyncio.create_task(reader())
    # Due at the same moment as the watchdog's timer: both run before the task resumes.
    loop.call_at(deadline, task.cancel)
    with pytest.raises(asyncio.CancelledError):
        await task


def test_it_needs_a_running_task() -> None:
    with pytest.raises(RuntimeError):
        ReadWatchdog()
