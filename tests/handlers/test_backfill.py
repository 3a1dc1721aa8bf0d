"""Backfill on join (`KNOWLEDGE_BACKFILL_DAYS`): when the bot joins a channel, its past (within the
days set) goes into history and the index, one page of 15 per call at the configured pace shared by
replicas, one replica per channel, resumed from the saved cursor after a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from bot.settings import Settings
from bot.stores.backfill import BackfillState
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings, replicas
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, member_joined_channel
from tests.fakes.slack import FakeSlack

PACE = 0.05


def seed_ops(slack: FakeSlack) -> str:
    """#ops with 20 top-level messages (two pages), one thread of 17 replies (two pages), and one
    message older than the days backfilled."""
    slack.add_channel("COPS", name="ops")
    now = time.time()
    slack.seed_message(
        "COPS", "ancient news about the staging database, marker bf-old", "U2", ts=f"{now - 40 * 86400:.6f}"
    )
    root = f"{now - 5 * 86400:.6f}"
    slack.seed_message("COPS", "how often do we rotate the staging database password?", "U2", ts=root)
    for n in range(17):
        text = "every 90 days via the vault job, marker bf-reply" if n == 16 else f"reply {n} about lunch"
        slack.seed_message("COPS", text, "U1", ts=f"{now - 4 * 86400 + n:.6f}", thread_ts=root)
    for n in range(19):
        slack.seed_message("COPS", f"chatter {n} about the weather", "U2", ts=f"{now - 3 * 86400 + n:.6f}")
    return root


def backfill_settings(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, prefix: str, **more: object
) -> Settings:
    return make_settings(
        slack,
        relay,
        redis_url=redis_url,
        prefix=prefix,
        knowledge_backfill_days=30,
        knowledge_backfill_pace=more.pop("pace", PACE),
        **more,
    )


async def state_is(bot: BotUnderTest, check: Callable[[BackfillState], bool], timeout: float = 15.0) -> None:  # noqa: ASYNC109
    """Wait until the channel's saved backfill state passes `check` (it lives in Redis: polled)."""
    store = bot.running.parts.stores.backfill
    async with asyncio.timeout(timeout):
        while (state := await store.state("T1", "COPS")) is None or not check(state):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def finished(bot: BotUnderTest) -> None:
    await state_is(bot, lambda s: s.phase == "done")


async def test_joining_backfills_the_channel_s_past_at_the_pace_and_the_answer_finds_it(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    seed_ops(slack)
    slack.fail_next("conversations.history", retry_after=1)  # Slack says wait: the job waits and goes on
    async with bot_under_test(slack, relay, backfill_settings(slack, relay, redis_url, redis_prefix)) as bot:
        await bot.send(member_joined_channel(user="U2", channel="COPS"))  # someone else: nothing
        await bot.idle()
        assert slack.calls_to("conversations.history") == []
        await bot.send(member_joined_channel(user="UBOT", channel="COPS"))
        await finished(bot)

        history = slack.calls_to("conversations.history")
        replies = slack.calls_to("conversations.replies")
        assert [c.status for c in history] == [429, 200, 200]
        assert len(replies) == 2 and all(int(c.params["limit"]) == 15 for c in history + replies)
        for calls in (history[1:], replies):
            gaps = [b.received_at - a.received_at for a, b in zip(calls, calls[1:], strict=False)]
            assert all(gap >= PACE * 0.9 for gap in gaps)

        bot.relay.push(Script.stream(["Every 90 days [1]."]))
        await bot.send(app_mention(text="<@UBOT> how often is the staging database password rotated?"))
        await bot.answered()
        block = "\n".join(m["content"] for m in bot.relay.requests[0].json["messages"])
        assert "marker bf-reply" in block  # from the thread's second page
        assert "bf-old" not in block  # older than the days backfilled
        # Joining again later does not read the channel again.
        await bot.send(member_joined_channel(user="UBOT", channel="COPS"))
        await bot.idle()
        assert len(slack.calls_to("conversations.history")) == 3


async def test_replicas_backfill_a_channel_once(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    seed_ops(slack)
    settings = backfill_settings(slack, relay, redis_url, redis_prefix)
    async with replicas(slack, relay, settings) as (one, two):
        join = member_joined_channel(user="UBOT", channel="COPS")
        await asyncio.gather(one.send(join), two.send(join))  # Slack's redelivery, or two events
        await finished(one)
        assert len(slack.calls_to("conversations.history")) == 2
        assert len(slack.calls_to("conversations.replies")) == 2


async def test_a_stopped_backfill_resumes_from_its_cursor(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    seed_ops(slack)
    slow = backfill_settings(slack, relay, redis_url, redis_prefix, pace=30.0)
    async with bot_under_test(slack, relay, slow) as bot:
        await bot.send(member_joined_channel(user="UBOT", channel="COPS"))
        await state_is(bot, lambda s: bool(s.cursor))  # the first page is in, the second waits
    # Shut down while waiting for the next page's turn; a new start goes on from the saved cursor.
    [first] = slack.calls_to("conversations.history")
    assert "cursor" not in first.params
    slack.calls.clear()
    await redis_client.delete(f"{redis_prefix}:bf:pace:T1:conversations.history")  # a minute passed
    async with bot_under_test(slack, relay, backfill_settings(slack, relay, redis_url, redis_prefix)) as bot:
        await finished(bot)
        [second] = slack.calls_to("conversations.history")
        assert second.params.get("cursor")  # the second page, not the first again
        assert len(slack.calls_to("conversations.replies")) == 2


async def test_off_by_default(bot: BotUnderTest) -> None:
    seed_ops(bot.slack)
    await bot.send(member_joined_channel(user="UBOT", channel="COPS"))
    await bot.idle()
    assert bot.slack.calls_to("conversations.history") == []
