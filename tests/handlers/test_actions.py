"""The buttons on answers, pressed as Slack sends them: Stop while streaming; Regenerate and 👍/👎 after.

Every press is a signed `block_actions` payload built from the message as the fake Slack shows it,
so a button the bot did not draw cannot be pressed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.slack.blocks import ACTION_FEEDBACK_DOWN, ACTION_FEEDBACK_UP, ACTION_REGENERATE, ACTION_STOP
from bot.stores.feedback import Feedback
from bot.stores.guard import RedisGuard
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings, replicas
from tests.fakes.interactions import app_home_opened, block_actions, buttons
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention
from tests.fakes.slack import Call, FakeSlack


@asynccontextmanager
async def bot_with(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, **overrides: Any
) -> AsyncIterator[BotUnderTest]:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, **overrides)
    async with bot_under_test(slack, relay, settings) as running_bot:
        yield running_bot


async def streaming(bot: BotUnderTest, first_piece: str) -> tuple[dict[str, Any], str]:
    """Mention the bot; once `first_piece` shows in the answer, return the mention and the answer's ts."""
    mention = app_mention(text="<@UBOT> explain our deploy pipeline", user="U1")
    await bot.send(mention)

    def shows_first_piece(call: Call) -> bool:
        return call.method == "chat.update" and first_piece.strip() in str(call.params.get("text"))

    await bot.slack.wait_for(shows_first_piece)
    return mention, bot.slack.calls_to("chat.postMessage")[0].response["ts"]


async def press(bot: BotUnderTest, action_id: str, *, user: str, ts: str, channel: str = "C1") -> None:
    message = bot.slack.message(channel, ts)
    response = await bot.send_interaction(
        block_actions(action_id, user=user, message=message, channel=channel)
    )
    assert response.status_code == 200


# -- Stop ------------------------------------------------------------------------------------------

FIRST, NEVER_SENT = "First part. ", "Second part."
# The second piece comes long after the first (well past the test), so the answer is mid-stream.
SLOW = Script.stream([FIRST, NEVER_SENT], pace=30)


@pytest.mark.parametrize(
    ("stopper", "overrides"),
    [
        pytest.param("U1", {}, id="the-asker"),
        pytest.param("U3", {}, id="a-workspace-admin"),
        pytest.param("U9", {"admin_users": ("U9",)}, id="one-of-ADMIN_USERS"),
    ],
)
async def test_stop_closes_the_stream_and_ends_the_message_as_it_stands(
    stopper: str,
    overrides: dict[str, Any],
    slack: FakeSlack,
    relay: FakeRelayDance,
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
) -> None:
    slack.add_user("U3", "linus", is_admin=True)
    slack.add_user("U9", "margaret")  # not a workspace admin: only ADMIN_USERS lets her stop answers
    relay.push(SLOW)
    async with bot_with(slack, relay, redis_url, redis_prefix, **overrides) as bot:
        mention, ts = await streaming(bot, FIRST)
        while_streaming = bot.slack.message("C1", ts)
        answer_id = buttons(while_streaming["blocks"]).get(ACTION_STOP)
        assert answer_id, "a streaming answer carries a Stop button"

        await press(bot, ACTION_STOP, user=stopper, ts=ts)
        await relay.requests[0].wait_disconnected()
        await bot.answered(1)

        final = bot.slack.message("C1", ts)
        assert final["text"] == f"{FIRST}\n\n⏹️ _Stopped by <@{stopper}>._"
        assert NEVER_SENT not in json.dumps(final["blocks"])
        assert ACTION_STOP not in buttons(final["blocks"])
        assert buttons(final["blocks"])[ACTION_REGENERATE] == answer_id
        assert bot.slack.ephemeral == []
        assert len(bot.slack.calls_to("chat.postMessage")) == 1  # ended in place, nothing posted anew


async def test_the_stopped_note_goes_after_a_code_block_the_answer_left_open(bot: BotUnderTest) -> None:
    bot.relay.push(Script.stream(["Run this:\n\n```\nmake deploy\n", "make verify\n```\n"], pace=30))
    _, ts = await streaming(bot, "make deploy")
    await press(bot, ACTION_STOP, user="U1", ts=ts)
    await bot.answered(1)
    assert bot.slack.message("C1", ts)["text"] == (
        "Run this:\n\n```\nmake deploy\n```\n\n⏹️ _Stopped by <@U1>._"
    )


async def test_someone_else_cannot_stop_an_answer_and_is_told_so(bot: BotUnderTest) -> None:
    bot.relay.push(Script.stream([FIRST, "Second part."], pace=1.0))
    mention, ts = await streaming(bot, FIRST)

    await press(bot, ACTION_STOP, user="U2", ts=ts)  # grace: not the asker, not an admin
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.params["user"] == "U2" and note.params["channel"] == "C1"
    assert note.params["thread_ts"] == mention["ts"]
    assert "Only the person who asked" in note.params["text"]

    await bot.answered(1)
    assert not bot.relay.requests[0].disconnected
    final = bot.slack.message("C1", ts)
    assert final["text"] == "First part. Second part."
    assert "Stopped" not in json.dumps(final["blocks"])


async def test_stop_pressed_as_the_answer_completes_leaves_the_complete_answer(bot: BotUnderTest) -> None:
    """Once the stream is over there is nothing to stop: the final edit must still happen."""
    bot.relay.push(Script.stream(["Hello ", "world."], pace=0.3))
    _, ts = await streaming(bot, "Hello")
    bot.slack.fail_next("chat.update", retry_after=1)  # the next edit waits out a 429 for 1 s
    await bot.slack.wait_for(lambda c: c.method == "chat.update" and c.status == 429)
    async with asyncio.timeout(5):  # the stream's last bytes were written with "world."
        while not bot.relay.requests[0].finished:  # noqa: ASYNC110 - the fake records, nothing signals
            await asyncio.sleep(0.01)

    await press(bot, ACTION_STOP, user="U1", ts=ts)  # still shown: the final edit is pending
    await bot.answered(1)
    final = bot.slack.message("C1", ts)
    assert final["text"] == "Hello world."
    assert set(buttons(final["blocks"])) == {ACTION_REGENERATE, ACTION_FEEDBACK_UP, ACTION_FEEDBACK_DOWN}


async def test_stop_pressed_on_another_replica_stops_the_answer(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    """Slack delivers the press to any replica; the one streaming the answer must still stop it."""
    relay.push(SLOW)
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
    async with replicas(slack, relay, settings) as (streaming_one, other):
        _, ts = await streaming(streaming_one, FIRST)
        await press(other, ACTION_STOP, user="U1", ts=ts)
        await relay.requests[0].wait_disconnected()
        await streaming_one.answered(1)
        final = slack.message("C1", ts)
        assert final["text"] == f"{FIRST}\n\n⏹️ _Stopped by <@U1>._"
        assert buttons(final["blocks"])[ACTION_REGENERATE]
        await other.idle()
        assert slack.ephemeral == []


async def test_another_replica_checks_who_may_stop_and_says_when_there_is_nothing_to_stop(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    slack.add_user("U3", "linus", is_admin=True)
    relay.push(SLOW)
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
    async with replicas(slack, relay, settings) as (streaming_one, other):
        _, ts = await streaming(streaming_one, FIRST)
        while_streaming = slack.message("C1", ts)

        await press(other, ACTION_STOP, user="U2", ts=ts)  # grace: not the asker, not an admin
        [refused] = await slack.wait_for("chat.postEphemeral")
        assert refused.params["user"] == "U2" and "Only the person who asked" in refused.params["text"]
        assert not relay.requests[0].disconnected

        await press(other, ACTION_STOP, user="U3", ts=ts)  # a workspace admin, checked on the other replica
        await relay.requests[0].wait_disconnected()
        await streaming_one.answered(1)
        assert slack.message("C1", ts)["text"].endswith("⏹️ _Stopped by <@U3>._")

        # The Stop button of the message as it was while streaming, pressed again now it is over.
        again = block_actions(ACTION_STOP, user="U1", message=while_streaming, channel="C1")
        assert (await other.send_interaction(again)).status_code == 200
        [_, finished] = await slack.wait_for("chat.postEphemeral", count=2)
        assert finished.params["user"] == "U1"
        assert finished.params["text"] == "This answer has already finished."


# -- Regenerate and feedback ---------------------------------------------------------------------------


async def test_a_finished_answer_offers_regenerate_which_answers_the_same_question_again(
    bot: BotUnderTest,
) -> None:
    bot.relay.push(Script.stream(["Blue-green."]), Script.stream(["Canary releases."]))
    mention = app_mention(text="<@UBOT> how should we deploy?", user="U1")
    await bot.send(mention)
    await bot.answered(1)
    first_ts = bot.slack.calls_to("chat.postMessage")[0].response["ts"]
    controls = buttons(bot.slack.message("C1", first_ts)["blocks"])
    assert set(controls) == {ACTION_REGENERATE, ACTION_FEEDBACK_UP, ACTION_FEEDBACK_DOWN}
    assert len(set(controls.values())) == 1  # every button carries the answer's id

    await press(bot, ACTION_REGENERATE, user="U1", ts=first_ts)
    await bot.answered(2)

    first, second = bot.relay.requests
    assert second.json["messages"] == first.json["messages"]  # the same question, the same context
    assert second.json["messages"][-1] == {"role": "user", "content": "ada: how should we deploy?"}
    posts = bot.slack.calls_to("chat.postMessage")
    assert [p.params["thread_ts"] for p in posts] == [mention["ts"], mention["ts"]]
    assert bot.slack.message("C1", first_ts)["text"] == "Blue-green."  # the first answer stays
    assert bot.slack.message("C1", posts[1].response["ts"])["text"] == "Canary releases."


async def test_feedback_is_recorded_with_channel_model_and_latency_and_shown_in_app_home(
    bot: BotUnderTest, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    bot.relay.push(Script.stream(["Fine."], first_delay=0.2))
    await bot.send(app_mention(text="<@UBOT> is the build green?", user="U1"))
    await bot.answered(1)
    ts = bot.slack.calls_to("chat.postMessage")[0].response["ts"]

    await press(bot, ACTION_FEEDBACK_UP, user="U2", ts=ts)
    await bot.slack.wait_for("chat.postEphemeral")
    await press(bot, ACTION_FEEDBACK_UP, user="U2", ts=ts)  # the same vote again counts once
    await press(bot, ACTION_FEEDBACK_DOWN, user="U1", ts=ts)
    await bot.slack.wait_for("chat.postEphemeral", count=3)
    assert all(e["text"] == "Thanks for the feedback!" for e in bot.slack.ephemeral)

    keys = Feedback(redis_client, RedisGuard(timeout=1), prefix=redis_prefix, ttl_seconds=60)
    assert await redis_client.hgetall(keys.counts_key("T1")) == {"up": "1", "down": "1"}
    log = [json.loads(raw) for raw in await redis_client.lrange(keys.log_key("T1"), 0, -1)]
    assert [(e["user"], e["vote"]) for e in reversed(log)] == [("U2", "up"), ("U1", "down")]
    for entry in log:
        assert entry["channel"] == "C1" and entry["model"] == "grok-4.3"
        assert 200 <= entry["latency_ms"] < 5000  # the request to the first token (first_delay=0.2)

    await bot.send(app_home_opened(user="U1"))
    [publish] = await bot.slack.wait_for("views.publish")
    assert publish.params["user_id"] == "U1"
    fields = [f["text"] for block in bot.slack.home_views["U1"]["blocks"] for f in block.get("fields") or ()]
    assert "*👍 Helpful*\n1" in fields and "*👎 Not helpful*\n1" in fields
    assert "*Answers*\n1" in fields  # U1's own usage
