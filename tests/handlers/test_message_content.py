"""End to end: content that lives in attachments, blocks and files reaches the model."""

from __future__ import annotations

from tests.e2e_harness import BotUnderTest
from tests.fakes.relaydance import Script
from tests.fakes.signing import app_mention, message_changed, message_event


async def test_a_forwarded_message_above_the_question_reaches_the_model(bot: BotUnderTest) -> None:
    root = message_event(text="FYI", user="U2")
    forwarded = message_event(text="", user="U2", thread_ts=root["ts"])
    forwarded["attachments"] = [
        {
            "is_share": True,
            "author_name": "grace",
            "channel_name": "ops",
            "text": "Staging DB password rotates every 90 days, marker fw01.",
        }
    ]
    for event in (root, forwarded):
        await bot.send(event)
    bot.relay.push(Script.stream(["It says every 90 days."]))
    await bot.send(app_mention(text="<@UBOT> what does the message above say?", thread_ts=root["ts"]))
    await bot.answered(1)
    sent = str(bot.relay.requests[0].json["messages"])
    assert "marker fw01" in sent and "Shared message from grace in #ops" in sent


async def test_an_edit_keeps_the_messages_file(bot: BotUnderTest) -> None:
    root = message_event(text="here is the log", user="U2")
    root["files"] = [{"id": "F1", "name": "crash.log", "pretty_type": "Plain Text"}]
    await bot.send(root)
    edit = message_changed(channel="C1", ts=root["ts"], text="here is the crash log", user="U2")
    edit["message"]["files"] = root["files"]
    await bot.send(edit)
    bot.relay.push(Script.stream(["A crash log."]))
    await bot.send(app_mention(text="<@UBOT> what was shared?", thread_ts=root["ts"]))
    await bot.answered(1)
    sent = str(bot.relay.requests[0].json["messages"])
    assert "here is the crash log" in sent and "[attached file: crash.log (Plain Text)]" in sent
