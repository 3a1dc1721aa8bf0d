"""The HTTP door: unsigned requests get 401 before anything is parsed; signed but malformed ones
get 400 and one log line; none of them reaches a listener, a traceback or Slack."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest

from tests.e2e_harness import SIGNING_SECRET, BotUnderTest
from tests.fakes.signing import app_mention, event_callback, sign

BAD_BODIES = [
    "{not json",
    "[1, 2, 3]",
    json.dumps({"type": "event_callback", "event": None}),
    json.dumps({"type": "event_callback", "event": "app_mention"}),
    json.dumps(event_callback({**app_mention(text="<@UBOT> hi"), "text": 12345})),
    json.dumps(event_callback({**app_mention(text="<@UBOT> hi"), "ts": {"$gt": ""}})),
]


async def post(bot: BotUnderTest, raw: str, *, signed: bool = True, form: bool = False) -> int:
    headers = sign(SIGNING_SECRET, raw) if signed else {}
    headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
    response = await bot.http.post(f"{bot.url}/slack/events", content=raw, headers=headers)
    return response.status_code


@pytest.mark.parametrize(
    "body",
    BAD_BODIES,
    ids=["invalid-json", "array", "event-null", "event-string", "text-number", "ts-object"],
)
async def test_a_signed_malformed_body_gets_400_and_one_line(
    bot: BotUnderTest, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        assert await post(bot, body) == 400
        await bot.idle()
    refusals = [r for r in caplog.records if "refused a request" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING
    assert not any(r.exc_info for r in caplog.records)  # no traceback
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
    assert bot.slack.calls_to("chat.postMessage") == [] and bot.relay.requests == []


async def test_a_malformed_interaction_payload_gets_400(bot: BotUnderTest) -> None:
    assert await post(bot, "payload=%7Bnot+json", form=True) == 400
    assert await post(bot, "payload=" + json.dumps({"type": "block_actions", "user": "U1"}), form=True) == 400


async def test_an_unsigned_body_is_refused_before_it_is_parsed(
    bot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        for body in ("{not json", "[]", json.dumps(event_callback(app_mention(text="<@UBOT> hi")))):
            assert await post(bot, body, signed=False) == 401
    assert not any(r.exc_info for r in caplog.records)
    assert all("signature" in r.getMessage() for r in caplog.records if "refused" in r.getMessage())


async def test_a_body_that_is_not_utf8_gets_400(bot: BotUnderTest) -> None:
    raw = b'{"type": "event_callback", "event": {"type": "app_mention", "text": "\xff\xfe"}}'
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),  # signed over the exact bytes, as Slack does
        "Content-Type": "application/json",
    }
    response = await bot.http.post(f"{bot.url}/slack/events", content=raw, headers=headers)
    assert response.status_code == 400


async def test_a_well_formed_event_still_gets_through(bot: BotUnderTest) -> None:
    await bot.send(app_mention(text="<@UBOT> hello"))
    await bot.answered(1)
    assert len(bot.relay.requests) == 1
