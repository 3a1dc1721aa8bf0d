"""RelayDance failing: the user reads what happened in the thread, keeps what streamed, and the bot
goes on answering."""

from __future__ import annotations

import logging

import pytest

from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import API_KEY, FakeRelayDance, Script
from tests.fakes.signing import app_mention
from tests.fakes.slack import FakeSlack


async def ask(bot: BotUnderTest, n: int, text: str = "<@UBOT> question") -> str:
    """Mention the bot; return the final text of its (first) reply message."""
    event = app_mention(text=text, user="U1")
    await bot.send(event)
    await bot.answered(n)
    reply = [m for m in bot.slack.thread_messages("C1", event["ts"]) if m.get("user") == "UBOT"]
    return "\n".join(str(m["text"]) for m in reply)


@pytest.mark.parametrize(
    ("scripts", "expected"),
    [
        (
            [Script.error(401, "Incorrect API key provided", type="invalid_request_error")],
            "refused the bot's API key",
        ),
        ([Script.error(403, "forbidden")], "refused the bot's API key"),
        ([Script.error(404, "model not found")], "does not know the model `grok-4.3`"),
        ([Script.error(429, "slow down", retry_after=45)], "rate limiting the bot; try again in 45 s"),
        ([Script.error(500)] * 3, "had a service error"),
        ([Script.error(503)] * 3, "had a service error"),
    ],
)
async def test_failure_before_any_text_replaces_the_placeholder(
    bot: BotUnderTest, scripts: list[Script], expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    bot.relay.push(*scripts)
    with caplog.at_level(logging.DEBUG):
        text = await ask(bot, 1)
    assert text.startswith("⚠️") and expected in text
    assert "Thinking" not in text
    assert API_KEY not in caplog.text and API_KEY not in text
    # The bot goes on: the next mention is answered normally.
    bot.relay.push(Script.stream(["fine ", "now"]))
    assert await ask(bot, 2) == "fine now"


async def test_server_errors_are_retried_before_the_first_token(bot: BotUnderTest) -> None:
    bot.relay.push(Script.error(500), Script.error(502), Script.stream(["recovered"]))
    assert await ask(bot, 1) == "recovered"
    assert len(bot.relay.requests) == 3


async def test_a_cut_stream_keeps_the_text_and_says_why(bot: BotUnderTest) -> None:
    bot.relay.push(Script.stream(["First part. ", "Second part. ", "never sent"], cut_after=2, pace=0.01))
    text = await ask(bot, 1)
    assert text.startswith("First part. Second part.")
    assert "never sent" not in text
    assert "*Answer cut off:*" in text and "broke mid-answer" in text
    assert len(bot.relay.requests) == 1  # never restarted after the first token
    bot.relay.push(Script.stream(["next"]))
    assert await ask(bot, 2) == "next"


async def test_an_error_object_mid_stream_keeps_the_text(bot: BotUnderTest) -> None:
    bot.relay.push(Script.stream(["Partial ", "answer"], error_after=2, error_message="overloaded"))
    text = await ask(bot, 1)
    assert text.startswith("Partial answer") and "Answer cut off" in text


async def test_length_limit_is_said(bot: BotUnderTest) -> None:
    bot.relay.push(Script.stream(["A long story"], finish_reason="length"))
    text = await ask(bot, 1)
    assert text.startswith("A long story") and "length limit" in text


async def test_first_token_timeout_is_said(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: object
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, first_token_timeout=0.3)
    async with bot_under_test(slack, relay, settings) as bot:
        relay.push(Script.hang())
        text = await ask(bot, 1)
        assert "did not start answering after 0.3 s" in text


async def test_idle_timeout_mid_answer_keeps_text(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: object
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, idle_timeout=0.3)
    async with bot_under_test(slack, relay, settings) as bot:
        # A slow but steady stream longer than the idle timeout in total is fine...
        relay.push(Script.stream([f"w{i} " for i in range(8)], pace=0.1))
        assert await ask(bot, 1) == "".join(f"w{i} " for i in range(8))
        # ...a pause longer than it is not.
        relay.push(Script.stream(["before ", "after"], pace=1.0))
        text = await ask(bot, 2)
        assert text.startswith("before") and "stopped sending after 0.3 s" in text


async def test_a_stream_line_that_never_ends_stops_the_answer_instead_of_filling_memory(
    bot: BotUnderTest,
) -> None:
    # 3 MiB without a line end: the bot stops reading at 1 MiB and says the stream broke.
    bot.relay.push(Script.stream(["never shown"], raw_prefix=b"data: " + b"x" * (3 << 20)))
    text = await ask(bot, 1)
    assert text == "⚠️ The connection to RelayDance broke mid-answer."
    bot.relay.push(Script.stream(["fine ", "now"]))
    assert await ask(bot, 2) == "fine now"
