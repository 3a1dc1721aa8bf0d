"""Limits of a real workspace, end to end: answers beyond MAX_CONCURRENT_ANSWERS wait in a visible
queue (and beyond ANSWER_QUEUE_SIZE are told the bot is busy), daily token allowances, and
Regenerate throttled per person across replicas, keeping the original asker."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from bot.slack.blocks import ACTION_REGENERATE, ACTION_STOP
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.interactions import block_actions
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, message_event
from tests.fakes.slack import Call, FakeSlack
from tests.handlers.test_commands import link_to
from tests.handlers.test_summaries import seed_thread, shortcut

BUSY = "I'm too busy right now, try again in a minute."


@asynccontextmanager
async def bot_with(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, **overrides: Any
) -> AsyncIterator[BotUnderTest]:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, **overrides)
    async with bot_under_test(slack, relay, settings) as running_bot:
        yield running_bot


def shows(text: str) -> Any:
    def check(call: Call) -> bool:
        return call.method in ("chat.update", "chat.postMessage") and text in str(call.params.get("text"))

    return check


async def press(bot: BotUnderTest, action_id: str, *, user: str, ts: str, channel: str = "C1") -> None:
    message = bot.slack.message(channel, ts)
    response = await bot.send_interaction(
        block_actions(action_id, user=user, message=message, channel=channel)
    )
    assert response.status_code == 200


def reply_ts(slack: FakeSlack, thread_ts: str) -> list[str]:
    return [str(m["ts"]) for m in slack.thread_messages("C1", thread_ts) if m.get("user") == "UBOT"]


# -- MAX_CONCURRENT_ANSWERS and ANSWER_QUEUE_SIZE ----------------------------------------------------


async def test_answers_beyond_the_limit_wait_in_a_visible_queue_and_beyond_it_are_told_busy(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    relay.push(Script.stream(["Running first. ", "never sent"], pace=30))
    async with bot_with(
        slack, relay, redis_url, redis_prefix, max_concurrent_answers=1, answer_queue_size=2
    ) as bot:
        first = app_mention(text="<@UBOT> first", user="U1")
        await bot.send(first)
        await slack.wait_for(shows("Running first."))
        second, third, fourth = (app_mention(text=f"<@UBOT> number {n}", user="U2") for n in (2, 3, 4))
        await bot.send(second)
        await slack.wait_for(shows("_Queued — next in line…_"))
        await bot.send(third)
        await slack.wait_for(shows("_Queued — 1 answer ahead…_"))
        await bot.send(fourth)
        [busy] = await slack.wait_for(shows(BUSY))
        assert busy.params["thread_ts"] == fourth["ts"]  # in the thread, where the answer would be
        assert len(relay.requests) == 1  # queued answers send nothing upstream yet
        metrics = (await bot.http.get(f"{bot.url}/metrics")).text
        assert "relaydance_queue_depth 2.0" in metrics.splitlines()

        # The first answer ends (stopped): the queue moves up, the second runs, then the third.
        [first_ts] = reply_ts(slack, first["ts"])
        await press(bot, ACTION_STOP, user="U1", ts=first_ts)
        await bot.answered(4)
        # One at a time, in order: each queued answer asks RelayDance only once the one before it
        # has ended. (Not asserted: the third answer's "next in line" status between the two. The
        # edit scheduler shows the latest state of a placeholder, and that one may be skipped.)
        first_request, second_request, third_request = relay.requests
        assert first_request.disconnected
        assert second_request.last_piece_at is not None
        assert third_request.received_at > second_request.last_piece_at
        for mention in (second, third):
            [ts] = reply_ts(slack, mention["ts"])
            assert slack.message("C1", ts)["text"] == f"Echo: grace: {mention['text'].split('> ')[1]}"
        assert [
            str(m["text"]) for m in slack.thread_messages("C1", fourth["ts"]) if m.get("user") == "UBOT"
        ] == [BUSY]


async def test_a_queued_answer_can_be_stopped_and_leaves_the_queue(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    relay.push(Script.stream(["Running. ", "later"], pace=0.5))
    async with bot_with(
        slack, relay, redis_url, redis_prefix, max_concurrent_answers=1, answer_queue_size=1
    ) as bot:
        await bot.send(app_mention(text="<@UBOT> first", user="U1"))
        await slack.wait_for(shows("Running."))
        waiting = app_mention(text="<@UBOT> second", user="U2")
        await bot.send(waiting)
        await slack.wait_for(shows("_Queued"))
        [ts] = reply_ts(slack, waiting["ts"])
        await press(bot, ACTION_STOP, user="U2", ts=ts)
        await bot.answered(2)
        assert slack.message("C1", ts)["text"].endswith("_Stopped by <@U2>._")
        assert len(relay.requests) == 1
        # Its place is free again: a new question is queued, not refused, and answered.
        await bot.send(app_mention(text="<@UBOT> third", user="U2"))
        await bot.answered(3)
        assert len(relay.requests) == 2


# -- DAILY_TOKENS_PER_USER / DAILY_TOKENS_PER_CHANNEL ------------------------------------------------


async def test_a_person_who_used_todays_allowance_gets_a_plain_message_until_it_resets(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    # RelayDance reports 700 tokens per answer: the second answer takes ada over 1,000.
    relay.default = Script.echo(usage=(600, 100, 700))
    async with bot_with(slack, relay, redis_url, redis_prefix, daily_tokens_per_user=1000) as bot:
        for n in (1, 2):
            await bot.send(app_mention(text=f"<@UBOT> question {n}", user="U1"))
            await bot.answered(n)
        over = app_mention(text="<@UBOT> question 3", user="U1")
        await bot.send(over)
        await bot.send(app_mention(text="<@UBOT> my first", user="U2"))  # grace has her own allowance
        await bot.answered(4)
    assert len(relay.requests) == 3
    [said] = [m["text"] for m in slack.thread_messages("C1", over["ts"]) if m.get("user") == "UBOT"]
    assert said == "You've used today's answer allowance (1,000 tokens); it resets at 00:00 UTC."
    keys = [k async for k in redis_client.scan_iter(match=f"{redis_prefix}:quota:*:user:T1:U1")]
    assert [await redis_client.get(k) for k in keys] == ["1400"]
    assert 0 < await redis_client.ttl(keys[0]) <= 2 * 86_400


async def test_a_channel_allowance_counts_everyone_and_estimates_when_usage_is_not_reported(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    relay.push(Script.stream(["word " * 1100]))  # no usage reported: about 1,100 tokens estimated
    async with bot_with(slack, relay, redis_url, redis_prefix, daily_tokens_per_channel=1000) as bot:
        await bot.send(app_mention(text="<@UBOT> write a lot", user="U1"))
        await bot.answered(1)
        over = app_mention(text="<@UBOT> and me?", user="U2")
        await bot.send(over)
        await bot.answered(2)
    assert len(relay.requests) == 1
    [said] = [m["text"] for m in slack.thread_messages("C1", over["ts"]) if m.get("user") == "UBOT"]
    assert said == "This channel has used today's answer allowance (1,000 tokens); it resets at 00:00 UTC."
    [key] = [k async for k in redis_client.scan_iter(match=f"{redis_prefix}:quota:*:channel:T1:C1")]
    assert int(await redis_client.get(key) or 0) > 1000


async def test_a_summarys_map_steps_count_toward_the_allowance(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    filler = "We compared the options at length and wrote down the trade-offs for later. " * 2
    stamps = seed_thread(slack, [f"Entry {i:02d}. {filler}" for i in range(60)])
    relay.default = Script.echo(usage=(100, 10, 110))
    async with bot_with(
        slack, relay, redis_url, redis_prefix, history_budget_tokens=500, daily_tokens_per_user=10**6
    ) as bot:
        await bot.send_interaction(shortcut(slack, "C1", stamps[0]))
        await bot.answered(1)
    assert len(relay.requests) >= 3
    [key] = [k async for k in redis_client.scan_iter(match=f"{redis_prefix}:quota:*:user:T1:U1")]
    assert await redis_client.get(key) == str(110 * len(relay.requests))


# -- Regenerate ----------------------------------------------------------------------------------------


async def test_regenerate_keeps_the_original_asker_who_alone_may_stop_it(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    relay.push(Script.stream(["First answer."]), Script.stream(["Second. ", "never sent"], pace=30))
    async with bot_with(slack, relay, redis_url, redis_prefix) as bot:
        mention = app_mention(text="<@UBOT> how should we deploy?", user="U1")
        await bot.send(mention)
        await bot.answered(1)
        [first_ts] = reply_ts(slack, mention["ts"])
        await press(bot, ACTION_REGENERATE, user="U2", ts=first_ts)  # grace regenerates ada's answer
        await slack.wait_for(shows("Second."))
        [_, second_ts] = reply_ts(slack, mention["ts"])
        await press(bot, ACTION_STOP, user="U2", ts=second_ts)
        [note] = await slack.wait_for("chat.postEphemeral")
        assert note.params["user"] == "U2" and "Only the person who asked" in note.params["text"]
        await press(bot, ACTION_STOP, user="U1", ts=second_ts)
        await bot.answered(2)
        assert slack.message("C1", second_ts)["text"].endswith("_Stopped by <@U1>._")


async def test_regenerate_is_throttled_per_person_across_replicas(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, regenerate_per_minute=3)
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(bot_under_test(slack, relay, settings))
        two = await stack.enter_async_context(bot_under_test(slack, relay, settings))
        mention = app_mention(text="<@UBOT> pick a name", user="U1")
        await one.send(mention)
        await one.answered(1)
        [ts] = reply_ts(slack, mention["ts"])
        for replica in (one, two, one, two):  # four presses by ada, alternating replicas
            await press(replica, ACTION_REGENERATE, user="U1", ts=ts)
        await press(two, ACTION_REGENERATE, user="U2", ts=ts)  # grace has her own count
        await one.idle()
        await two.idle()
    assert len(relay.requests) == 1 + 3 + 1
    [note] = slack.ephemeral
    assert note["user"] == "U1" and note["thread_ts"] == mention["ts"]
    assert note["text"] == "You've regenerated 3 answers in the last minute; try again in a minute."


async def test_regenerate_checks_access_again_for_a_summary(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    # grace summarizes a private channel's thread in her assistant pane, then leaves the channel:
    # Regenerate must not produce the summary for her again.
    slack.add_channel("G1", name="leadership", members=["U1", "U2"])
    slack.add_channel("D2", user="U2")
    pane = slack.seed_message("D2", "", user="UBOT", bot_id="BBOT")
    slack.messages["D2"][pane]["subtype"] = "assistant_app_thread"
    root = slack.seed_message("G1", "Private plans, marker pv01", "U1")
    async with bot_with(slack, relay, redis_url, redis_prefix) as bot:
        typed = message_event(
            text=f"Summarize this thread: {link_to('G1', root)}",
            user="U2",
            channel="D2",
            channel_type="im",
            thread_ts=pane,
            parent_user_id="UBOT",
        )
        await bot.send(typed)
        await bot.answered(1)
        [post] = slack.calls_to("chat.postMessage")
        assert post.params["channel"] == "D2"
        assert "marker pv01" in relay.requests[0].json["messages"][1]["content"]
        slack.members["G1"] = ["U1"]
        await press(bot, ACTION_REGENERATE, user="U2", ts=post.response["ts"], channel="D2")
        await bot.idle()
    assert len(relay.requests) == 1
    [note] = slack.ephemeral
    assert (note["user"], note["channel"], note["thread_ts"]) == ("U2", "D2", pane)
    assert "can't see that channel" in note["text"]


async def test_regenerate_replays_a_recap_and_an_ask_as_they_were(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    slack.seed_message(
        "C1", "Release is frozen until Friday, marker rf01", "U2", ts=f"{time.time() - 60:.6f}"
    )
    async with bot_with(slack, relay, redis_url, redis_prefix) as bot:
        await bot.command("/recap", "24h", user="U1")
        await bot.answered(1)
        await bot.command("/ask", "when is the freeze over?", user="U1")
        await bot.answered(2)
        recap_post, question, ask_post = slack.calls_to("chat.postMessage")
        await press(bot, ACTION_REGENERATE, user="U2", ts=recap_post.response["ts"])
        await bot.answered(3)
        await press(bot, ACTION_REGENERATE, user="U2", ts=ask_post.response["ts"])
        await bot.answered(4)
    first_recap, first_ask, again_recap, again_ask = relay.requests
    # The same requests, over the channel as it is now (it holds the recap and the question too).
    assert again_recap.json["messages"][0] == first_recap.json["messages"][0]
    assert "marker rf01" in again_recap.json["messages"][1]["content"]
    assert (
        again_ask.json["messages"][-1]
        == first_ask.json["messages"][-1]
        == {
            "role": "user",
            "content": "ada: when is the freeze over?",
        }
    )
    posts = slack.calls_to("chat.postMessage")[3:]
    assert [p.params.get("thread_ts") for p in posts] == [None, question.response["ts"]]


async def test_an_allowance_used_up_is_said_privately_for_a_recap_at_the_channels_top_level(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    slack.seed_message("C1", "Something happened", "U2", ts=f"{time.time() - 60:.6f}")
    relay.default = Script.echo(usage=(900, 200, 1100))
    async with bot_with(slack, relay, redis_url, redis_prefix, daily_tokens_per_user=1000) as bot:
        await bot.command("/recap", "24h", user="U1")
        await bot.answered(1)
        await bot.command("/recap", "24h", user="U1")
        await bot.answered(2)
    assert len(relay.requests) == 1 and len(slack.calls_to("chat.postMessage")) == 1
    [note] = slack.ephemeral
    assert note["user"] == "U1" and note["text"].startswith("You've used today's answer allowance")
