"""Answers in Slack's native streams (chat.startStream / appendStream / stopStream), end to end.

The bot runs against the fake Slack and RelayDance with SLACK_NATIVE_STREAMING on; every check
reads what the fake Slack shows and the calls it received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.slack.blocks import ACTION_FEEDBACK, ACTION_REGENERATE, ACTION_STOP
from bot.stores.feedback import Feedback
from bot.stores.guard import RedisGuard
from bot.text.from_mrkdwn import mrkdwn_to_markdown
from bot.text.mrkdwn import markdown_to_mrkdwn
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.interactions import block_actions, buttons
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention
from tests.fakes.slack import FakeSlack

ANSWER = ["Deploys go **blue-green**:\n\n", "1. build\n", "2. switch traffic\n\n", "See `make deploy`."]


@asynccontextmanager
async def native_bot(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, **overrides: Any
) -> AsyncIterator[BotUnderTest]:
    overrides.setdefault("slack_native_streaming", "auto")
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, **overrides)
    async with bot_under_test(slack, relay, settings) as running_bot:
        yield running_bot


def bot_replies(slack: FakeSlack, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.thread_messages("C1", thread_ts) if m.get("user") == "UBOT"]


def streamed(slack: FakeSlack) -> str:
    """Everything the bot put into its streams, in order."""
    calls = [
        c for c in slack.calls if c.method in ("chat.startStream", "chat.appendStream", "chat.stopStream")
    ]
    texts = []
    for call in (c for c in calls if c.ok):
        texts.append(str(call.params.get("markdown_text") or ""))
        texts.extend(str(k["text"]) for k in call.params.get("chunks") or () if k["type"] == "markdown_text")
    return "".join(texts)


async def press(bot: BotUnderTest, action_id: str, *, user: str, ts: str, positive: bool = True) -> None:
    message = bot.slack.message("C1", ts)
    payload = block_actions(action_id, user=user, message=message, channel="C1", positive=positive)
    assert (await bot.send_interaction(payload)).status_code == 200


async def test_a_mention_is_answered_in_a_native_stream_in_the_models_markdown(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    relay.push(Script.stream(ANSWER, pace=0.05))
    async with native_bot(slack, relay, redis_url, redis_prefix) as bot:
        mention = app_mention(text="<@UBOT> how do we deploy?", user="U1")
        await bot.send(mention)
        await bot.answered(1)

    (start,) = slack.calls_to("chat.startStream")
    assert start.params["thread_ts"] == mention["ts"]
    assert (start.params["recipient_team_id"], start.params["recipient_user_id"]) == ("T1", "U1")
    assert slack.calls_to("chat.appendStream"), "the text streamed as it came"
    assert [c.ok for c in slack.calls_to("chat.stopStream")] == [True]
    assert slack.calls_to("chat.postMessage") == [] and slack.calls_to("chat.update") == []

    (reply,) = bot_replies(slack, mention["ts"])
    assert reply["text"] == "".join(ANSWER)  # standard Markdown, as the model wrote it
    assert streamed(slack) == "".join(ANSWER)  # each piece sent once
    assert buttons(reply["blocks"])[ACTION_REGENERATE]
    (feedback,) = [b for b in reply["blocks"] if b["type"] == "context_actions"]
    assert feedback["elements"][0]["type"] == "feedback_buttons"


async def test_appends_never_overlap_and_carry_everything_that_arrived_meanwhile(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    slack.latency = 0.05  # each append takes a while: the pieces pile up behind it
    pieces = [f"piece {i}. " for i in range(40)]
    relay.push(Script.stream(pieces, pace=0.005))
    async with native_bot(slack, relay, redis_url, redis_prefix) as bot:
        mention = app_mention(text="<@UBOT> count", user="U1")
        await bot.send(mention)
        await bot.answered(1)
    appends = slack.calls_to("chat.appendStream")
    assert 1 <= len(appends) < 20  # coalesced, not one call per piece
    spans = sorted((c.received_at, c.received_at + 0.05) for c in appends)
    assert all(later[0] >= earlier[1] - 0.01 for earlier, later in zip(spans, spans[1:], strict=False))
    assert bot_replies(slack, mention["ts"])[0]["text"] == "".join(pieces)
    assert streamed(slack) == "".join(pieces)


@pytest.mark.parametrize("how", ["closed-by-slack", "too-old"])
async def test_a_stream_slack_closed_mid_answer_goes_on_by_editing_its_message(
    how: str, slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    first, second = "The first half, **streamed**. ", "The second half, after the stream closed."
    relay.push(Script.stream([first, second], pace=0.6))
    if how == "too-old":
        slack.streams.max_age = 0.4  # Slack's few minutes, shortened
    async with native_bot(slack, relay, redis_url, redis_prefix) as bot:
        mention = app_mention(text="<@UBOT> explain", user="U1")
        await bot.send(mention)
        (append,) = await slack.wait_for("chat.appendStream")
        ts = str(slack.calls_to("chat.startStream")[0].response["ts"])
        assert append.params["markdown_text"] == first
        if how == "closed-by-slack":
            slack.streams.close("C1", ts)
        await bot.answered(1)

    # The second half went in an append, or in the stop if the answer ended first: either way refused.
    (refused,) = [c for c in slack.calls if c.method.endswith("Stream") and not c.ok]
    assert refused.error == "message_not_in_streaming_state"
    assert str(refused.params["markdown_text"]).startswith(second)
    (reply,) = bot_replies(slack, mention["ts"])  # the same message, nothing posted anew
    assert reply["ts"] == ts
    assert reply["text"] == markdown_to_mrkdwn(first + second)  # whole: nothing lost, nothing repeated
    assert slack.calls_to("chat.postMessage") == []
    assert buttons(reply["blocks"])[ACTION_REGENERATE]
    assert ACTION_STOP not in buttons(reply["blocks"])


async def test_without_a_stream_token_the_answer_is_posted_and_edited(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    relay.push(Script.stream(["Native."]), Script.stream(["Edited **in place**."]))
    # One start in the window (and one stop, counted apart): the next answer finds the budget spent.
    async with native_bot(slack, relay, redis_url, redis_prefix, slack_rate_stream=(1.0, 60.0, 1.0)) as bot:
        one = app_mention(text="<@UBOT> one", user="U1")
        await bot.send(one)
        await bot.answered(1)
        two = app_mention(text="<@UBOT> two", user="U2")
        await bot.send(two)
        await bot.answered(2)
    assert len(slack.calls_to("chat.startStream")) == 1
    assert bot_replies(slack, one["ts"])[0]["text"] == "Native."
    (post,) = slack.calls_to("chat.postMessage")
    assert post.params["thread_ts"] == two["ts"]
    assert bot_replies(slack, two["ts"])[0]["text"] == "Edited *in place*."  # mrkdwn, as edits are


async def test_native_off_never_streams_and_native_on_waits_for_the_budget(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    relay.push(Script.stream(["Off."]))
    async with native_bot(slack, relay, redis_url, redis_prefix, slack_native_streaming="off") as bot:
        await bot.send(app_mention(text="<@UBOT> one", user="U1"))
        await bot.answered(1)
    assert slack.calls_to("chat.startStream") == []
    relay.push(Script.stream(["On."]))
    async with native_bot(slack, relay, redis_url, redis_prefix, slack_native_streaming="on") as bot:
        mention = app_mention(text="<@UBOT> two", user="U1")
        await bot.send(mention)
        await bot.answered(1)
    assert bot_replies(slack, mention["ts"])[0]["text"] == "On."
    assert len(slack.calls_to("chat.startStream")) == 1


async def test_a_refused_stream_start_falls_back_to_post_and_edit(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    slack.fail_next("chat.startStream", error="channel_type_not_supported")
    slack.fail_next("chat.startStream")  # then a 429
    relay.push(Script.stream(["First."]), Script.stream(["Second."]))
    async with native_bot(slack, relay, redis_url, redis_prefix) as bot:
        for i in range(2):
            mention = app_mention(text=f"<@UBOT> q{i}", user="U1")
            await bot.send(mention)
            await bot.answered(i + 1)
            assert [r["text"] for r in bot_replies(slack, mention["ts"])] == [["First.", "Second."][i]]
    assert len(slack.calls_to("chat.postMessage")) == 2


SLOW = Script.stream(["First part. ", "Never sent."], pace=30)


async def test_stop_pressed_mid_stream_ends_it_with_the_note(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    relay.push(SLOW)
    async with native_bot(slack, relay, redis_url, redis_prefix) as bot:
        mention = app_mention(text="<@UBOT> explain", user="U1")
        await bot.send(mention)
        await slack.wait_for("chat.appendStream")
        ts = str(slack.calls_to("chat.startStream")[0].response["ts"])
        assert buttons(slack.message("C1", ts)["blocks"])[ACTION_STOP], "the stream carries Stop"

        await press(bot, ACTION_STOP, user="U1", ts=ts)
        await relay.requests[0].wait_disconnected()
        await bot.answered(1)

        (stop,) = slack.calls_to("chat.stopStream")
        assert stop.ok
        final = slack.message("C1", ts)
        assert final["text"] == "First part. \n\n" + mrkdwn_to_markdown("⏹️ _Stopped by <@U1>._")
        assert slack.calls_to("chat.update") == []

        await press(bot, ACTION_STOP, user="U1", ts=ts)  # the button stays; it says it is over
        (told,) = await slack.wait_for("chat.postEphemeral")
        assert told.params["text"] == "This answer has already finished."


async def test_feedback_buttons_on_a_streamed_answer_record_votes(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    relay.push(Script.stream(["Fine."]))
    async with native_bot(slack, relay, redis_url, redis_prefix) as bot:
        mention = app_mention(text="<@UBOT> is the build green?", user="U1")
        await bot.send(mention)
        await bot.answered(1)
        ts = bot_replies(slack, mention["ts"])[0]["ts"]
        await press(bot, ACTION_FEEDBACK, user="U2", ts=ts)
        await press(bot, ACTION_FEEDBACK, user="U1", ts=ts, positive=False)
        await slack.wait_for("chat.postEphemeral", count=2)
    keys = Feedback(redis_client, RedisGuard(timeout=1), prefix=redis_prefix, ttl_seconds=60)
    assert await redis_client.hgetall(keys.counts_key("T1")) == {"up": "1", "down": "1"}


async def test_a_long_answer_leaves_the_stream_and_is_split_by_editing(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 200 + "\n\n" for i in range(12)]  # ~12,000 characters
    relay.push(Script.stream(paragraphs, pace=0.01))
    async with native_bot(slack, relay, redis_url, redis_prefix) as bot:
        mention = app_mention(text="<@UBOT> write a lot", user="U1")
        await bot.send(mention)
        await bot.answered(1, timeout=20)
    replies = bot_replies(slack, mention["ts"])
    assert len(replies) >= 3  # 4,000 characters a message once edited
    joined = "".join(r["text"] for r in replies)
    for i in range(12):
        assert joined.count(f"Paragraph {i}:") == 1
    assert len(slack.calls_to("chat.stopStream")) == 1  # closed before editing
    assert all(c.error != "streaming_state_conflict" for c in slack.calls_to("chat.update"))


async def test_a_reasoning_model_shows_a_task_card_until_its_answer_streams(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    thoughts = [{"reasoning_content": "Adding two and two. "}] * 5
    relay.push(Script.stream([*thoughts, "The answer ", "is 4."], pace=0.05))
    async with native_bot(slack, relay, redis_url, redis_prefix) as bot:
        mention = app_mention(text="<@UBOT> what is 2+2?", user="U1")
        await bot.send(mention)
        await bot.answered(1)
    (reply,) = bot_replies(slack, mention["ts"])
    assert reply["text"] == "The answer is 4."
    cards = [(c["title"], c["status"]) for c in reply["chunks"] if c["type"] == "task_update"]
    assert cards == [
        ("Reasoning before answering…", "in_progress"),
        ("Reasoning before answering…", "complete"),
    ]
    assert "two and two" not in str([c.params for c in slack.calls])  # the reasoning never reached Slack
