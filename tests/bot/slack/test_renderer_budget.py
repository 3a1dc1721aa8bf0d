"""StreamingReply spending the workspace budget: coalescing while it waits, a prompt final edit."""

from __future__ import annotations

import asyncio
import time

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.renderer import StreamingReply
from bot.slack.schedule import EditScheduler, MemoryBudget
from bot.text.rates import POST, UPDATE, LocalBuckets, Tier
from bot.text.splitting import join_chunks
from tests.fakes.slack import FakeSlack


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def reply(client: AsyncWebClient, sched: EditScheduler, interval: float = 0.0) -> StreamingReply:
    return StreamingReply(
        slack=client, team="T1", channel="C1", thread_ts=None, gate=sched, interval=interval
    )


async def test_text_arriving_while_the_budget_is_empty_goes_into_one_edit(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    clock = Clock()
    buckets = LocalBuckets(tiers={UPDATE: Tier(60, 60, 1), POST: Tier(100, 1, 100)}, clock=clock)
    sched = EditScheduler(MemoryBudget(buckets), clock=clock)
    r = reply(client, sched)
    await r.start()
    r.append("a")
    await slack.wait_for("chat.update")  # the first content spends the only token
    for piece in "bcdefghij":
        r.append(piece)
        await asyncio.sleep(0.01)
    assert len(slack.calls_to("chat.update")) == 1  # the rest waits for the budget, not in a queue
    clock.now += 1.0
    sched.nudge("T1")
    await slack.wait_for(lambda c: c.method == "chat.update" and c.params.get("text") == "abcdefghij")
    clock.now += 1.0
    await r.finish()
    assert [c.params["text"] for c in slack.calls_to("chat.update")] == ["a", "abcdefghij"]


async def test_the_final_edit_follows_the_last_token_at_once(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    r = reply(client, EditScheduler(), interval=5.0)  # a long gap between intermediate edits
    await r.start()
    r.append("first")
    await slack.wait_for("chat.update")
    r.append(" and the rest")
    started = time.monotonic()
    await r.finish()
    assert time.monotonic() - started < 0.15
    assert slack.message("C1", r.message_ts[0])["text"] == "first and the rest"


async def test_a_429_on_a_post_holds_that_channel_and_the_part_lands_after(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    sched = EditScheduler()
    r = StreamingReply(
        slack=client, team="T1", channel="C1", thread_ts=None, gate=sched, interval=0.0, limit=50
    )
    await r.start()
    slack.fail_next("chat.postMessage", retry_after=1)
    text = "x" * 40 + "\n\n" + "y" * 40
    r.append(text)  # two parts: the second is a new message
    await r.finish()
    assert sched.rate_limited == 1
    parts = [slack.message("C1", ts)["text"] for ts in r.message_ts]
    assert len(parts) == 2 and join_chunks(parts) == text


async def test_a_streaming_answers_next_text_goes_before_another_placeholders_new_words(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    clock = Clock()
    buckets = LocalBuckets(tiers={UPDATE: Tier(60, 60, 1), POST: Tier(100, 1, 100)}, clock=clock)
    sched = EditScheduler(MemoryBudget(buckets), clock=clock)
    queued, answering = reply(client, sched), reply(client, sched)
    await queued.start()
    await answering.start()
    answering.append("hello")
    await slack.wait_for("chat.update")  # the only token: the answer's first text
    queued.status("_Queued — next in line…_")  # waits first, for the next token
    await asyncio.sleep(0.01)
    answering.append(" world")
    await asyncio.sleep(0.01)
    clock.now += 1.0
    sched.nudge("T1")
    await slack.wait_for(lambda c: c.method == "chat.update" and c.params.get("text") == "hello world")
    assert len(slack.calls_to("chat.update")) == 2  # the answer's text, not the queue's place
    clock.now += 1.0
    sched.nudge("T1")
    await slack.wait_for(
        lambda c: c.method == "chat.update" and c.params.get("text") == "_Queued — next in line…_"
    )
    clock.now += 2.0
    await queued.finish()
    await answering.finish()
