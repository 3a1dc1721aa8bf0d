"""Leaving `bot.wiring.runtime.running()`: answers in flight get SHUTDOWN_GRACE to finish, the rest
are cancelled, and nothing the bot started is left pending once it returns.

The bot runs for real in HTTP mode against the loopback fakes and a real Redis (as in
tests/e2e_harness.py), with `shutdown_grace` set per test; a question goes in as a signed event
and the test leaves the context while the answer is still streaming.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from bot.settings import Settings
from bot.slack.blocks import ACTION_FEEDBACK_DOWN, ACTION_FEEDBACK_UP, ACTION_REGENERATE, ACTION_STOP
from bot.slack.renderer import PLACEHOLDER
from bot.wiring.runtime import running
from tests.e2e_harness import BotUnderTest, make_settings
from tests.fakes.interactions import buttons
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention
from tests.fakes.slack import Call, FakeSlack

FIRST = "First part. "
PIECES = [FIRST, *(f"piece {i}. " for i in range(1, 10))]  # about a second at pace 0.1
NEVER = "Never sent."


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user("U1", "ada")
        fake.add_user("U2", "grace")
        fake.add_channel("C1", name="general")
        yield fake


@pytest.fixture
async def relay() -> AsyncIterator[FakeRelayDance]:
    async with FakeRelayDance() as fake:
        yield fake


@pytest.fixture
def settings_for(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> Callable[..., Settings]:
    """Settings pointing at this test's fakes and Redis prefix, with `overrides`."""

    def build(**overrides: Any) -> Settings:
        return make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, **overrides)

    return build


async def streaming(bot: BotUnderTest) -> str:
    """Mention the bot; once the first piece shows in the answer, return the answer's ts."""
    await bot.send(app_mention(text="<@UBOT> explain our deploy pipeline", user="U1"))

    def shows_first_piece(call: Call) -> bool:
        return call.method == "chat.update" and FIRST.strip() in str(call.params.get("text"))

    await bot.slack.wait_for(shows_first_piece)
    return str(bot.slack.calls_to("chat.postMessage")[0].response["ts"])


async def waiting_for_first_token(bot: BotUnderTest) -> str:
    """Mention the bot; once the placeholder is up and RelayDance has the request, return its ts."""
    await bot.send(app_mention(text="<@UBOT> explain our deploy pipeline", user="U1"))
    [post] = await bot.slack.wait_for("chat.postMessage")
    await bot.relay.wait_requests(1)
    return str(post.response["ts"])


def pending_since(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Tasks created after `before` was taken that have not finished (the test's own task aside)."""
    mine = asyncio.current_task()
    return [t for t in asyncio.all_tasks() - before if t is not mine and not t.done()]


def describe(tasks: list[asyncio.Task[Any]]) -> list[str]:
    return [f"{t.get_name()}: {t.get_coro()!r}" for t in tasks]


@asynccontextmanager
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


# -- the drain -------------------------------------------------------------------------------------


async def test_an_answer_that_can_finish_within_the_drain_timeout_is_delivered_whole(
    settings_for: Callable[..., Settings], slack: FakeSlack, relay: FakeRelayDance
) -> None:
    relay.push(Script.stream(PIECES, pace=0.1))
    async with client() as http:
        async with running(settings_for(shutdown_grace=5)) as run:
            bot = BotUnderTest(running=run, http=http, slack=slack, relay=relay)
            ts = await streaming(bot)
            assert not relay.requests[0].finished  # still streaming as we leave
            leaving = time.monotonic()
        took = time.monotonic() - leaving

    assert 0.3 < took < 4  # it waited for the answer, not for the whole drain timeout
    [request] = relay.requests
    assert request.finished and not request.disconnected
    final = slack.message("C1", ts)
    assert final["text"] == "".join(PIECES)
    assert set(buttons(final["blocks"])) == {ACTION_REGENERATE, ACTION_FEEDBACK_UP, ACTION_FEEDBACK_DOWN}


@pytest.mark.parametrize("when", ["mid-stream", "before-the-first-token"])
async def test_an_answer_that_cannot_finish_is_cancelled_at_the_drain_timeout(
    settings_for: Callable[..., Settings], slack: FakeSlack, relay: FakeRelayDance, when: str
) -> None:
    """The upstream request is closed and `running()` returns soon after the drain timeout; the
    text streamed so far stays in Slack."""
    relay.push(Script.stream([FIRST, NEVER], pace=30) if when == "mid-stream" else Script.hang())
    async with client() as http:
        async with running(settings_for(shutdown_grace=0.5)) as run:
            bot = BotUnderTest(running=run, http=http, slack=slack, relay=relay)
            ts = await (streaming(bot) if when == "mid-stream" else waiting_for_first_token(bot))
            leaving = time.monotonic()
        took = time.monotonic() - leaving

    assert 0.5 <= took < 2.5
    await relay.requests[0].wait_disconnected()
    text = slack.message("C1", ts)["text"]
    assert NEVER not in text
    if when == "mid-stream":
        assert text.startswith(FIRST.strip())


@pytest.mark.parametrize("when", ["mid-stream", "before-the-first-token"])
async def test_an_answer_cancelled_by_shutdown_ends_with_a_note_saying_so(
    settings_for: Callable[..., Settings], slack: FakeSlack, relay: FakeRelayDance, when: str
) -> None:
    """Today Slack keeps showing the answer as if it were still streaming: the text so far (or
    the "Thinking…" placeholder) with a Stop button that no longer stops anything, and no word of
    why it ended."""
    relay.push(Script.stream([FIRST, NEVER], pace=30) if when == "mid-stream" else Script.hang())
    async with client() as http:
        async with running(settings_for(shutdown_grace=0.5)) as run:
            bot = BotUnderTest(running=run, http=http, slack=slack, relay=relay)
            ts = await (streaming(bot) if when == "mid-stream" else waiting_for_first_token(bot))

    final = slack.message("C1", ts)
    text = str(final["text"])
    note = text.rsplit("\n\n", 1)[-1]
    assert re.search(r"interrupted", note, re.IGNORECASE), text
    if when == "mid-stream":
        assert text.startswith(FIRST.strip())
    else:
        assert PLACEHOLDER not in text
    assert ACTION_STOP not in buttons(final.get("blocks"))


# -- nothing left behind ---------------------------------------------------------------------------


def long_thread(slack: FakeSlack) -> str:
    """A thread too long for one summary request (with a small budget); returns its root's ts."""
    filler = "We compared the options at length and wrote down the trade-offs for later. " * 2
    root = slack.seed_message("C1", f"Entry 00. {filler}", "U2")
    for i in range(1, 60):
        slack.seed_message("C1", f"Entry {i:02d}. {filler}", "U1" if i % 2 else "U2", thread_ts=root)
    return root


SCENARIOS = {
    # name: (scripts, drain_timeout, settings overrides)
    "drained": ([Script.stream(PIECES, pace=0.1)], 5.0, {}),
    "cancelled-mid-stream": ([Script.stream([FIRST, NEVER], pace=30)], 0.3, {}),
    "cancelled-before-the-first-token": ([Script.hang()], 0.3, {}),
    "cancelled-summary-in-parts": ([Script.hang()] * 30, 0.3, {"history_budget_tokens": 500}),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_no_task_the_bot_started_is_left_pending_after_running_returns(
    settings_for: Callable[..., Settings], slack: FakeSlack, relay: FakeRelayDance, scenario: str
) -> None:
    scripts, drain_timeout, overrides = SCENARIOS[scenario]
    relay.push(*scripts)
    async with client() as http:
        before = asyncio.all_tasks()
        async with running(settings_for(shutdown_grace=drain_timeout, **overrides)) as run:
            bot = BotUnderTest(running=run, http=http, slack=slack, relay=relay)
            if scenario == "cancelled-summary-in-parts":
                await bot.send(app_mention(text="<@UBOT> summarize", user="U1", thread_ts=long_thread(slack)))
                await relay.wait_requests(2)  # map steps in flight, run side by side
                job = "summary:"
            elif scenario == "cancelled-before-the-first-token":
                await waiting_for_first_token(bot)
                job = "answer:"
            else:
                await streaming(bot)
                job = "answer:"
            during = [t.get_name() for t in pending_since(before)]
            # The check below means something: the answer's own task and its renderer are running.
            assert any(name.startswith(job) for name in during), during
            assert any(name.startswith("render:") for name in during), during
        left = pending_since(before)

    assert left == [], describe(left)
