"""Socket Mode has no HTTP door: malformed envelopes are refused by the app's first middleware."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as aioredis

from bot.settings import Secret
from tests.e2e_harness import bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, event_callback
from tests.fakes.slack import FakeSlack


async def test_a_malformed_envelope_is_refused_with_one_line(
    slack: FakeSlack,
    relay: FakeRelayDance,
    redis_url: str,
    redis_prefix: str,
    redis_client: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(
        slack, relay, redis_url=redis_url, prefix=redis_prefix, slack_app_token=Secret(slack.app_token)
    )
    async with bot_under_test(slack, relay, settings) as bot:
        await slack.wait_connected()
        with caplog.at_level(logging.INFO):
            bad = event_callback({**app_mention(text="<@UBOT> hi"), "text": 42})
            await slack.wait_for_ack(await slack.send_envelope("events_api", bad))
            await bot.idle()
        assert [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()] == [
            "refused a malformed event_callback/app_mention payload: event.text is not a string"
        ]
        assert not any(r.exc_info for r in caplog.records)
        assert relay.requests == [] and slack.calls_to("chat.postMessage") == []

        relay.push(Script.stream(["still here"]))  # and the next good event is answered
        await slack.wait_for_ack(
            await slack.send_envelope("events_api", event_callback(app_mention(text="<@UBOT> hi")))
        )
        await bot.answered(1)
        assert len(relay.requests) == 1
