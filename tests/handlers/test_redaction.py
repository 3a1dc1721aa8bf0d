"""Redaction before upstream, end to end: no secret pasted in Slack reaches RelayDance in any
request (map steps of a summary included), and the answer says that something was redacted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, message_event
from tests.fakes.slack import FakeSlack
from tests.handlers.test_summaries import seed_thread, shortcut

FOOTNOTE = "_Some text was redacted before it was sent to the model._"
SLACK_TOKEN = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
CARD = "4242 4242 4242 4242"


@asynccontextmanager
async def bot_with(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, **overrides: Any
) -> AsyncIterator[BotUnderTest]:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, **overrides)
    async with bot_under_test(slack, relay, settings) as running_bot:
        yield running_bot


def sent(relay: FakeRelayDance) -> str:
    return "\n".join(m["content"] for r in relay.requests for m in r.json["messages"])


def answer_text(slack: FakeSlack, thread_ts: str) -> str:
    [reply] = [m for m in slack.thread_messages("C1", thread_ts) if m.get("user") == "UBOT"]
    return str(reply["text"])


async def test_secrets_in_a_thread_never_reach_the_model_and_the_answer_says_so(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    relay.push(Script.stream(["Don't paste keys here."]), Script.stream(["Fine."]))
    async with bot_with(slack, relay, redis_url, redis_prefix) as bot:
        root = message_event(text=f"our deploy token is {SLACK_TOKEN} and the AWS key {AWS_KEY}", user="U2")
        await bot.send(root)
        mention = app_mention(
            text=f"<@UBOT> is it ok that I pay with {CARD}?", user="U1", thread_ts=root["ts"]
        )
        await bot.send(mention)
        await bot.answered(1)
        # An answer with nothing to redact has no footnote.
        await bot.send(app_mention(text="<@UBOT> nothing secret here", user="U1"))
        await bot.answered(2)

    text = sent(relay)
    for secret in (SLACK_TOKEN, AWS_KEY, CARD, "4242424242424242"):
        assert secret not in text
    first = relay.requests[0].json["messages"]
    assert first[-2]["content"] == "grace: our deploy token is [redacted] and the AWS key [redacted]"
    assert first[-1]["content"] == "ada: is it ok that I pay with [redacted]?"
    assert answer_text(slack, root["ts"]) == f"Don't paste keys here.\n\n{FOOTNOTE}"
    assert "redacted" not in str(slack.calls_to("chat.update")[-1].params["text"])  # the second answer
    # The conversation keeps the answer alone (the footnote is not a turn of it).
    stored = await redis_client.hgetall(f"{redis_prefix}:msgs:T1:C1:{root['ts']}")
    assert not any("redacted before" in raw for raw in stored.values())


async def test_every_map_step_of_a_long_summary_is_redacted(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    filler = "We compared the options at length and wrote down the trade-offs for later. " * 2
    texts = [f"Entry {i:02d}. {filler}" for i in range(60)]
    texts[7] = f"Entry 07: the staging key is {AWS_KEY}. {filler}"
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    texts[45] = f"Entry 45: {pem} {filler}"
    stamps = seed_thread(slack, texts)
    relay.push(*(Script.stream([f"NOTES-{n}."]) for n in range(1, 30)))
    async with bot_with(slack, relay, redis_url, redis_prefix, history_budget_tokens=500) as bot:
        await bot.send_interaction(shortcut(slack, "C1", stamps[0]))
        await bot.answered(1)
    assert len(relay.requests) >= 3  # map steps, then the merge
    text = sent(relay)
    assert AWS_KEY not in text and "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in text
    assert "Entry 07: the staging key is [redacted]." in text
    assert "Entry 45: [redacted]" in text
    assert answer_text(slack, stamps[0]).endswith(FOOTNOTE)


async def test_redact_false_turns_the_defaults_off_and_patterns_of_ones_own_still_apply(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    async with bot_with(
        slack, relay, redis_url, redis_prefix, redact=False, redact_patterns=(r"ACME-[0-9]{6}",)
    ) as bot:
        mention = app_mention(text=f"<@UBOT> token {SLACK_TOKEN}, ticket ACME-123456", user="U1")
        await bot.send(mention)
        await bot.answered(1)
    [request] = relay.requests
    assert request.json["messages"][-1]["content"] == f"ada: token {SLACK_TOKEN}, ticket [redacted]"
    assert answer_text(slack, mention["ts"]).endswith(FOOTNOTE)
