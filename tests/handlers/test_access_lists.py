"""ALLOWED_* / BLOCKED_* end to end: a person or channel the bot is not enabled for gets no answer —
a private note for a mention, a plain reply in a DM, an ephemeral refusal for a command — and
nothing reaches RelayDance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.interactions import buttons
from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.signing import app_mention, message_event
from tests.fakes.slack import FakeSlack
from tests.handlers.test_commands import ephemeral, link_to
from tests.handlers.test_summaries import shortcut

NOT_FOR_YOU = "I'm not enabled for you in this workspace"


@asynccontextmanager
async def bot_with(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, **overrides: Any
) -> AsyncIterator[BotUnderTest]:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, **overrides)
    async with bot_under_test(slack, relay, settings) as running_bot:
        yield running_bot


async def test_a_blocked_user_gets_a_private_note_for_a_mention_and_a_plain_reply_in_a_dm(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    slack.add_channel("D2", user="U2")
    async with bot_with(slack, relay, redis_url, redis_prefix, blocked_users=("U2",)) as bot:
        mention = app_mention(text="<@UBOT> what is our deploy window?", user="U2")
        await bot.send(mention)
        await bot.send(message_event(text="hello bot", user="U2", channel="D2", channel_type="im"))
        await bot.idle()
        assert relay.requests == []
        [note] = slack.ephemeral
        assert (note["user"], note["channel"], note["thread_ts"]) == ("U2", "C1", mention["ts"])
        assert note["text"].startswith(NOT_FOR_YOU)
        [reply] = slack.calls_to("chat.postMessage")
        assert reply.params["channel"] == "D2" and reply.params["text"].startswith(NOT_FOR_YOU)
        assert "blocks" not in reply.params or not buttons(reply.params.get("blocks"))

        # Everyone else is answered as before, in the same channel.
        await bot.send(app_mention(text="<@UBOT> and for me?", user="U1"))
        await bot.idle()
        assert len(relay.requests) == 1


async def test_a_follow_up_from_a_blocked_user_in_an_active_thread_is_left_alone(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    async with bot_with(slack, relay, redis_url, redis_prefix, blocked_users=("U2",)) as bot:
        first = app_mention(text="<@UBOT> how do I rotate keys?", user="U1")
        await bot.send(first)
        await bot.answered(1)
        await bot.send(message_event(text="and how often?", user="U2", thread_ts=first["ts"]))
        await bot.idle()
        assert len(relay.requests) == 1 and slack.ephemeral == []
        assert len(slack.calls_to("chat.postMessage")) == 1


async def test_outside_allowed_channels_a_mention_gets_a_private_note_and_dms_still_work(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    slack.add_channel("C2", name="random")
    slack.add_channel("D1", user="U1")
    async with bot_with(slack, relay, redis_url, redis_prefix, allowed_channels=("C1",)) as bot:
        await bot.send(app_mention(text="<@UBOT> hi from random", user="U1", channel="C2"))
        await bot.send(message_event(text="hi in a DM", user="U1", channel="D1", channel_type="im"))
        await bot.answered(2)
        [note] = slack.ephemeral
        assert note["channel"] == "C2" and note["text"].startswith("I'm not enabled in <#C2>")
        assert len(relay.requests) == 1  # the DM
        assert relay.requests[0].json["messages"][-1]["content"] == "ada: hi in a DM"


async def test_slash_commands_refuse_in_their_ephemeral_acknowledgement(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    slack.add_channel("C9", name="secret-project")
    root = slack.seed_message("C9", "Plans, marker sp01", "U1")
    async with bot_with(
        slack, relay, redis_url, redis_prefix, blocked_users=("U2",), blocked_channels=("C9",)
    ) as bot:
        for command, text in [
            ("/ask", "anything?"),
            ("/recap", "24h"),
            ("/summarize", link_to("C1", "1700000000.000100")),
            ("/relaydance", "settings"),
        ]:
            answer = ephemeral(await bot.command(command, text, user="U2"))
            assert answer.startswith(NOT_FOR_YOU), (command, answer)
        # A permitted person cannot reach a blocked channel either: not by a link, not from inside it.
        answer = ephemeral(await bot.command("/summarize", link_to("C9", root), user="U1"))
        assert answer.startswith("I'm not enabled in <#C9>")
        answer = ephemeral(await bot.command("/ask", "what are the plans?", user="U1", channel="C9"))
        assert answer.startswith("I'm not enabled in <#C9>")
        await bot.idle()
    assert relay.requests == [] and slack.calls_to("chat.postMessage") == []
    assert slack.calls_to("views.open") == []


async def test_the_shortcut_and_the_assistant_pane_refuse_too(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    slack.add_channel("D2", user="U2")
    pane = slack.seed_message("D2", "", user="UBOT", bot_id="BBOT")
    slack.messages["D2"][pane]["subtype"] = "assistant_app_thread"
    ts = slack.seed_message("C1", "Summarize me", "U1")
    async with bot_with(slack, relay, redis_url, redis_prefix, blocked_users=("U2",)) as bot:
        await bot.send_interaction(shortcut(slack, "C1", ts, user="U2"))
        typed = message_event(
            text="What's new?",
            user="U2",
            channel="D2",
            channel_type="im",
            thread_ts=pane,
            parent_user_id="UBOT",
        )
        await bot.send(typed)
        await bot.idle()
        await slack.wait_for(lambda c: bool(slack.responses))
    assert slack.responses[0]["response_type"] == "ephemeral"
    assert slack.responses[0]["text"].startswith(NOT_FOR_YOU)
    [said] = slack.calls_to("chat.postMessage")
    assert said.params["channel"] == "D2" and said.params["thread_ts"] == pane
    assert said.params["text"].startswith(NOT_FOR_YOU)
    assert relay.requests == []
