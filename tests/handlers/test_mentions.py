"""A mention, end to end: signed HTTP event in, placeholder + streamed edits + final answer out."""

from __future__ import annotations

import redis.asyncio as aioredis

from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, message_event
from tests.fakes.slack import FakeSlack


async def test_mention_streams_a_growing_answer_into_the_thread(bot: BotUnderTest) -> None:
    pieces = [f"word{i} " for i in range(30)]
    bot.relay.push(Script.stream(pieces, pace=0.01))
    event = app_mention(text="<@UBOT> how do I rotate our API keys?", user="U1", channel="C1")
    response = await bot.send(event)
    assert response.status_code == 200
    await bot.answered()

    posts = bot.slack.calls_to("chat.postMessage")
    assert len(posts) == 1
    assert posts[0].params["thread_ts"] == event["ts"]
    assert posts[0].params["text"] == "_Thinking…_"
    updates = [c.params["text"] for c in bot.slack.calls_to("chat.update")]
    assert len(updates) >= 3  # at least two growing edits and the final one
    assert all(len(a) <= len(b) for a, b in zip(updates, updates[1:], strict=False))
    final = bot.slack.message("C1", posts[0].response["ts"])
    assert final["text"] == "".join(pieces)

    request = bot.relay.requests[0].json
    assert request["stream"] is True and request["model"] == "grok-4.3"
    assert request["messages"][0]["role"] == "system"
    assert request["messages"][-1] == {"role": "user", "content": "ada: how do I rotate our API keys?"}


async def test_a_follow_up_in_the_thread_carries_earlier_turns_with_roles(bot: BotUnderTest) -> None:
    bot.relay.push(Script.stream(["Use the ", "key rotation page."]))
    first = app_mention(text="<@UBOT> how do I rotate keys?", user="U1")
    await bot.send(first)
    await bot.answered(1)
    # Someone else replies in the thread without mentioning the bot: it is a follow-up.
    bot.relay.push(Script.stream(["Every 90 days."]))
    follow = message_event(text="and how often should we?", user="U2", thread_ts=first["ts"])
    await bot.send(follow)
    await bot.answered(2)

    messages = bot.relay.requests[1].json["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "ada: how do I rotate keys?"
    assert messages[2]["content"] == "Use the key rotation page."
    assert messages[3]["content"] == "grace: and how often should we?"
    replies = bot.slack.thread_messages("C1", first["ts"])
    assert [r["text"] for r in replies if r.get("user") == "UBOT"] == [
        "Use the key rotation page.",
        "Every 90 days.",
    ]


async def test_display_names_are_looked_up_once_and_kept_in_redis(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)

    def lookups() -> list[str]:
        return [c.params["user"] for c in slack.calls_to("users.info")]

    async with bot_under_test(slack, relay, settings) as bot:
        for n in (1, 2):
            await bot.send(app_mention(text=f"<@UBOT> question {n} for <@U2>", user="U1"))
            await bot.answered(n)
        assert sorted(lookups()) == ["U1", "U2"]  # users.info is tier 4: once per person
    # A restarted bot (a new process, same Redis) finds the names there.
    async with bot_under_test(slack, relay, settings) as bot:
        await bot.send(app_mention(text="<@UBOT> question 3", user="U1"))
        await bot.answered(1)
        assert sorted(lookups()) == ["U1", "U2"]
        assert relay.requests[-1].json["messages"][-1]["content"] == "ada: question 3"
