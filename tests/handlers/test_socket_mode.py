"""Socket Mode end to end: the same handlers behind a websocket instead of HTTP."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.settings import Secret
from tests.e2e_harness import bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, event_callback
from tests.fakes.slack import FakeSlack


async def test_socket_mode_acks_the_envelope_and_answers_once(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(
        slack, relay, redis_url=redis_url, prefix=redis_prefix, slack_app_token=Secret(slack.app_token)
    )
    async with bot_under_test(slack, relay, settings) as bot:
        assert bot.running.url is None  # no HTTP server in Socket Mode
        await slack.wait_connected()
        relay.push(Script.stream(["over ", "the socket"]))
        body = event_callback(app_mention(text="<@UBOT> via socket", user="U1"))
        envelope = await slack.send_envelope("events_api", body)
        ack = await slack.wait_for_ack(envelope)
        assert ack["envelope_id"] == envelope
        # Socket Mode hides Slack's retry headers: a redelivery must still be answered once.
        again = await slack.send_envelope("events_api", body, retry_attempt=1, retry_reason="timeout")
        await slack.wait_for_ack(again)
        await bot.answered(1)
        await bot.idle()
        assert len(relay.requests) == 1
        reply = [m for m in slack.thread_messages("C1", body["event"]["ts"]) if m.get("user") == "UBOT"]
        assert [m["text"] for m in reply] == ["over the socket"]
