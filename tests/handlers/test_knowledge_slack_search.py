"""Team knowledge with Slack's Real-time Search API (`assistant.search.context`): with a
`search:read.*` scope and the event's `action_token`, Slack's results join the index's (each thread
once), still pass the bot's own access decision, and any refusal falls back to the index alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, message_event
from tests.fakes.slack import GRANTED_SCOPES, FakeSlack

OLD = "1763000000.000100"
TOKEN = "12345.98765.abcd2358fdea"


@pytest.fixture
async def searching(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[BotUnderTest]:
    """The bot of an app granted Slack's search of public channels (seen by auth.test at start)."""
    slack.scopes = f"{GRANTED_SCOPES},search:read.public"
    slack.action_tokens[TOKEN] = "U1"
    async with bot_under_test(
        slack, relay, make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
    ) as bot:
        yield bot


def knowledge(bot: BotUnderTest, index: int = 0) -> str:
    messages = bot.relay.requests[index].json["messages"]
    return "\n".join(m["content"] for m in messages if m["content"].startswith("Earlier conversations"))


def asked(text: str, **fields: str) -> dict[str, object]:
    return {**app_mention(text=f"<@UBOT> {text}", user="U1"), **fields}


async def test_slack_search_finds_a_thread_the_bot_never_recorded_and_the_index_adds_its_own(
    searching: BotUnderTest,
) -> None:
    bot = searching
    bot.slack.add_channel("COPS", name="ops")
    # Said before the bot was there: only Slack knows it.
    bot.slack.seed_message(
        "COPS", "staging database password rotation is every 90 days, marker rts1", "U2", ts=OLD
    )
    # Recorded by the bot as it arrived, and also found by Slack: one source, not two.
    event = message_event(
        text="staging database password lives in vault, marker rts2", user="U2", channel="COPS"
    )
    bot.slack.seed_message("COPS", event["text"], "U2", ts=event["ts"])
    await bot.send(event)
    bot.relay.push(Script.stream(["Every 90 days [1], in vault [2]."]))
    await bot.send(asked("how often is the staging database password rotated?", action_token=TOKEN))
    await bot.answered()

    [search] = bot.slack.calls_to("assistant.search.context")
    assert search.params["action_token"] == TOKEN and search.params["channel_types"] == "public_channel"
    assert search.params["query"] == "how often is the staging database password rotated?"
    block = knowledge(bot)
    assert "marker rts1" in block and "marker rts2" in block
    assert block.count("marker rts2") == 1
    final = bot.slack.calls_to("chat.postMessage")[-1]
    text = str(bot.slack.message("C1", final.response["ts"])["text"])
    assert f"/archives/COPS/p{OLD.replace('.', '')}" in text  # the Slack-only thread is cited


async def test_without_an_action_token_slack_is_not_asked(searching: BotUnderTest) -> None:
    bot = searching
    bot.relay.push(Script.stream(["No idea."]))
    await bot.send(asked("how often is the staging database password rotated?"))
    await bot.answered()
    assert bot.slack.calls_to("assistant.search.context") == []


async def test_slack_results_still_pass_the_bot_s_access_decision(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    slack.scopes = f"{GRANTED_SCOPES},search:read.public,search:read.private"
    slack.action_tokens[TOKEN] = "U1"
    slack.add_channel("GSEC", name="secops", is_private=True, members=["U1", "UBOT"])
    slack.add_channel("CFAR", name="far", bot_member=False)
    slack.seed_message("GSEC", "the staging database password is in kv/stg, marker rts3", "U1", ts=OLD)
    slack.seed_message("CFAR", "the staging database password expires monthly, marker rts4", "U2", ts=OLD)
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
    async with bot_under_test(slack, relay, settings) as bot:
        bot.relay.push(Script.stream(["I don't know."]))
        await bot.send(asked("where is the staging database password?", action_token=TOKEN))
        await bot.answered()
        await bot.idle()
        [search] = bot.slack.calls_to("assistant.search.context")
        assert search.params["channel_types"] == "public_channel,private_channel"
        request = str(bot.relay.requests[0].json)
        # Slack found both as U1 may see them; neither may be quoted in #general.
        assert "rts3" not in request and "rts4" not in request
        [offer] = bot.slack.ephemeral  # the private channel is offered privately, as with the index
        assert "<#GSEC>" in str(offer["text"]) and "rts3" not in str(offer)


@pytest.mark.parametrize("refusal", ["missing_scope", "feature_not_enabled", "invalid_action_token"])
async def test_a_refusal_falls_back_to_the_index_silently(searching: BotUnderTest, refusal: str) -> None:
    bot = searching
    bot.slack.add_channel("COPS", name="ops")
    event = message_event(
        text="staging database password lives in vault, marker rts5", user="U2", channel="COPS"
    )
    bot.slack.seed_message("COPS", event["text"], "U2", ts=event["ts"])
    await bot.send(event)
    token = TOKEN
    if refusal == "missing_scope":
        bot.slack.scopes = GRANTED_SCOPES  # the scope was taken away after start-up
    elif refusal == "feature_not_enabled":
        bot.slack.faults.fail_next("assistant.search.context", error=refusal, times=2)
    else:
        token = "99999.11111.not-one-slack-gave"  # the fake answers invalid_action_token
    for n in (1, 2):
        bot.relay.push(Script.stream(["In vault [1]."]))
        await bot.send(asked("where is the staging database password?", action_token=token))
        await bot.answered(n)
        assert "marker rts5" in knowledge(bot, n - 1)
        assert bot.slack.ephemeral == []  # nothing told to the asker about it
    calls = bot.slack.calls_to("assistant.search.context")
    # A lasting refusal is not asked again at once; a bad token is the event's alone.
    assert len(calls) == (2 if refusal == "invalid_action_token" else 1)
