"""PlaceholdersFirst on its own: who waits, for how long, and what ends a wait."""

from __future__ import annotations

import asyncio

from bot.core.placeholders import PlaceholdersFirst


async def test_nothing_due_means_no_wait() -> None:
    first = PlaceholdersFirst(max_wait_seconds=5)
    async with asyncio.timeout(0.5):
        await first.wait()
    with first.pending() as posted:
        posted()
        await first.wait()  # its own placeholder is up: nothing else is due
    assert first.due == 0


async def test_a_wait_lasts_until_every_placeholder_due_is_up() -> None:
    first = PlaceholdersFirst(max_wait_seconds=5)
    with first.pending() as mine, first.pending() as other, first.pending() as third:
        mine()
        waiting = asyncio.create_task(first.wait())
        other()
        await asyncio.sleep(0.05)
        assert not waiting.done() and first.due == 1
        third()
        async with asyncio.timeout(0.5):
            await waiting
        other()  # once only, however often it is called
        assert first.due == 0


async def test_an_answer_that_posts_nothing_is_not_waited_for() -> None:
    first = PlaceholdersFirst(max_wait_seconds=5)
    with first.pending() as mine:
        mine()
        waiting = asyncio.create_task(first.wait())
        with first.pending():
            await asyncio.sleep(0.05)
            assert not waiting.done()
        async with asyncio.timeout(0.5):  # the block ended: e.g. Slack refused its placeholder
            await waiting


async def test_a_wait_ends_after_its_limit_however_many_are_due() -> None:
    first = PlaceholdersFirst(max_wait_seconds=0.1)
    with first.pending():
        loop = asyncio.get_running_loop()
        began = loop.time()
        await first.wait()
        assert 0.09 <= loop.time() - began < 1.0
        assert first.due == 1
