"""Logs as an operator reads them: LOG_FORMAT=json, the ids of the answer on every one of its
lines, no secrets, and what people wrote only at DEBUG."""

from __future__ import annotations

import contextvars
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import log_context
from bot.wiring import logging_setup
from tests.e2e_harness import BotUnderTest
from tests.fakes.relaydance import Script
from tests.fakes.signing import app_mention


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The bot's own logging set-up, writing to a buffer; pytest's handlers are put back after."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    logging_setup.configure("INFO", ["xoxb-1-fake-bot-token"], json_format=True)
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_every_line_of_an_answer_names_its_conversation_and_answer(
    bot: BotUnderTest, captured: io.StringIO
) -> None:
    bot.relay.push(Script.error(500, "upstream broke"), Script.error(500), Script.error(500))
    mention = app_mention(text="<@UBOT> the secret plan is bananas", user="U1")
    await bot.send(mention)
    await bot.answered(1)
    await bot.idle()
    entries = lines(captured)
    failed = [e for e in entries if e["message"].startswith("RelayDance failed")]
    assert failed, entries
    for entry in failed:
        assert entry["team"] == "T1" and entry["channel"] == "C1" and entry["thread"] == mention["ts"]
        assert len(entry["answer"]) == 16 and entry["level"] == "WARNING"
        assert {"time", "logger"} <= set(entry)
    assert "bananas" not in captured.getvalue()  # people's words stay out at INFO


def test_secrets_are_scrubbed_from_json_lines_and_tracebacks(captured: io.StringIO) -> None:
    log = logging.getLogger("test.secrets")
    log.warning("token %s leaked", "xoxb-1-fake-bot-token")
    try:
        raise RuntimeError("boom xoxb-1-fake-bot-token")
    except RuntimeError:
        log.exception("failed")
    text = captured.getvalue()
    assert "xoxb-1-fake-bot-token" not in text
    first, second = lines(captured)
    assert first["message"] == "token ******** leaked"
    assert "RuntimeError: boom ********" in second["exception"]


def test_text_lines_carry_the_ids_too() -> None:
    formatter = logging_setup.TextFormatter()
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "hello", None, None)

    def in_an_answer() -> None:
        log_context.bind(team="T9", channel="C9", answer=None)
        logging_setup.WithContext().filter(record)

    contextvars.copy_context().run(in_an_answer)  # the ids stay out of other tests
    assert formatter.format(record).endswith("bot.x: hello [team=T9 channel=C9]")
    assert log_context.current() == {}


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_slack_sdk_builds_its_debug_lines_only_at_debug(level: str) -> None:
    root = logging.getLogger()
    web = logging.getLogger(logging_setup.SLACK_SDK_WEB_LOGGER)
    handlers, root_level, web_level = root.handlers[:], root.level, web.level
    try:
        logging_setup.configure(level, [])
        # slack-sdk tests `logger.level <= DEBUG` (its own level, not the effective one).
        assert (web.level <= logging.DEBUG) == (level == "DEBUG")
        assert web.isEnabledFor(logging.DEBUG) == (level == "DEBUG")
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        web.setLevel(web_level)
