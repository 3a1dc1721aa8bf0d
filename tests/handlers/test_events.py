"""Delivery rules: signatures, Slack's retries, what triggers an answer and what only updates history."""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as aioredis

from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import (
    app_mention,
    event_callback,
    message_changed,
    message_deleted,
    message_event,
    sign,
)
from tests.fakes.slack import FakeSlack


async def test_bad_signature_is_refused_and_posts_nothing(bot: BotUnderTest) -> None:
    response = await bot.send(app_mention(text="<@UBOT> hi"), secret="not-the-secret")
    assert response.status_code == 401
    stale = json.dumps(event_callback(app_mention(text="<@UBOT> hi")))
    old_headers = {
        **sign("test-signing-secret-42", stale, timestamp=1_000_000),
        "Content-Type": "application/json",
    }
    response = await bot.http.post(f"{bot.url}/slack/events", content=stale, headers=old_headers)
    assert response.status_code == 401  # a replayed request older than five minutes
    await bot.idle()
    assert bot.slack.calls_to("chat.postMessage") == []
    assert bot.relay.requests == []


async def test_url_verification_is_answered(bot: BotUnderTest) -> None:
    response = await bot.send_body({"type": "url_verification", "challenge": "c-123", "token": "x"})
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}


async def test_a_retried_event_is_answered_once(bot: BotUnderTest) -> None:
    body = event_callback(app_mention(text="<@UBOT> once please"))
    for attempt in range(4):  # the original and Slack's three retries
        retry = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"} if attempt else {}
        response = await bot.send_body(body, headers=retry)
        assert response.status_code == 200
    await bot.answered(1)
    await bot.idle()
    assert len(bot.relay.requests) == 1
    assert len(bot.slack.calls_to("chat.postMessage")) == 1


async def test_mention_and_its_message_event_give_one_answer(bot: BotUnderTest) -> None:
    mention = app_mention(text="<@UBOT> hello", channel="C1")
    as_message = message_event(text=mention["text"], user="U1", channel="C1", ts=mention["ts"])
    await asyncio.gather(bot.send(mention), bot.send(as_message))
    await bot.answered(1)
    await bot.idle()
    assert len(bot.relay.requests) == 1


async def test_a_direct_message_starts_a_thread_and_a_reply_there_carries_its_history(
    bot: BotUnderTest,
) -> None:
    """The DM is the agent experience's Messages tab: each top-level message is a conversation of
    its own, answered in its thread, and what is said in that thread is its history."""
    bot.slack.add_channel("D1", user="U1")
    bot.relay.push(Script.stream(["Hi ", "Ada."]), Script.stream(["Sure."]))
    first = message_event(text="hello bot", user="U1", channel="D1", channel_type="im")
    await bot.send(first)
    await bot.answered(1)
    second = message_event(
        text="tell me more", user="U1", channel="D1", channel_type="im", thread_ts=first["ts"]
    )
    await bot.send(second)
    await bot.answered(2)
    posts = bot.slack.calls_to("chat.postMessage")
    assert [p.params.get("thread_ts") for p in posts] == [first["ts"], first["ts"]]
    messages = bot.relay.requests[1].json["messages"]
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", "ada: hello bot"),
        ("assistant", "Hi Ada."),
        ("user", "ada: tell me more"),
    ]
    statuses = [c.params for c in bot.slack.calls_to("assistant.threads.setStatus")]
    assert {s["thread_ts"] for s in statuses} == {first["ts"]} and statuses[0]["status"]


async def test_channel_messages_without_mention_are_recorded_not_answered(bot: BotUnderTest) -> None:
    root = message_event(text="deploy is at 5pm", user="U2")
    await bot.send(root)
    await bot.send(message_event(text="ok", user="U1", thread_ts=root["ts"]))
    mention = app_mention(text="<@UBOT> when is the deploy?", user="U1", thread_ts=root["ts"])
    await bot.send(mention)
    await bot.answered(1)
    contents = [m["content"] for m in bot.relay.requests[0].json["messages"][1:]]
    assert contents == ["grace: deploy is at 5pm", "ada: ok", "ada: when is the deploy?"]
    assert bot.slack.calls_to("conversations.replies") == []  # Redis had the thread already
    assert len(bot.relay.requests) == 1


async def test_edits_and_deletions_update_history_but_never_trigger(bot: BotUnderTest) -> None:
    root = message_event(text="the deploy is at 5pm", user="U2")
    wrong = message_event(text="I think 6pm", user="U1", thread_ts=root["ts"])
    for event in (root, wrong):
        await bot.send(event)
    await bot.send(message_changed(channel="C1", ts=root["ts"], text="the deploy is at 4pm", user="U2"))
    await bot.send(message_deleted(channel="C1", deleted_ts=wrong["ts"], user="U1", thread_ts=root["ts"]))
    await bot.idle()
    assert bot.relay.requests == []  # edits and deletions alone never answer
    await bot.send(app_mention(text="<@UBOT> when?", user="U1", thread_ts=root["ts"]))
    await bot.answered(1)
    contents = [m["content"] for m in bot.relay.requests[0].json["messages"][1:]]
    assert contents == ["grace: the deploy is at 4pm", "ada: when?"]


async def test_own_messages_and_other_bots_do_not_trigger(bot: BotUnderTest) -> None:
    await bot.send(app_mention(text="<@UBOT> start", user="U1"))
    await bot.answered(1)
    thread = bot.slack.calls_to("chat.postMessage")[0].params["thread_ts"]
    own_ts = bot.slack.calls_to("chat.postMessage")[0].response["ts"]
    # Slack echoes our own posts and edits back as events; none may start an answer.
    await bot.send(message_event(text="Echo", user="UBOT", bot_id="BBOT", thread_ts=thread))
    await bot.send(message_changed(channel="C1", ts=own_ts, text="Echo: start", user="UBOT", bot_id="BBOT"))
    # Another bot talking in the thread is recorded, not answered.
    await bot.send(message_event(text="beep", user="U9", bot_id="B9", thread_ts=thread))
    await bot.idle()
    assert len(bot.relay.requests) == 1


async def test_follow_up_addressed_to_someone_else_is_left_alone(bot: BotUnderTest) -> None:
    mention = app_mention(text="<@UBOT> hi", user="U1")
    await bot.send(mention)
    await bot.answered(1)
    await bot.send(message_event(text="<@U2> can you check this?", user="U1", thread_ts=mention["ts"]))
    await bot.idle()
    assert len(bot.relay.requests) == 1


async def test_follow_ups_can_be_turned_off(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(
        slack, relay, redis_url=redis_url, prefix=redis_prefix, followups_without_mention=False
    )
    async with bot_under_test(slack, relay, settings) as b:
        mention = app_mention(text="<@UBOT> hi", user="U1")
        await b.send(mention)
        await b.answered(1)
        await b.send(message_event(text="and another thing", user="U1", thread_ts=mention["ts"]))
        await b.idle()
        assert len(relay.requests) == 1


async def test_health_check(bot: BotUnderTest) -> None:
    response = await bot.http.get(f"{bot.url}/healthz")
    assert response.status_code == 200 and response.json() == {"ok": True}
