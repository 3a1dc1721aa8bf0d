"""Edits and deletions in the assistant pane's DM thread reach history too.

Bolt's Assistant middleware acknowledges `message_changed` / `message_deleted` in assistant DM
threads and drops them before any listener; the bot records every message in its own middleware
ahead of it, so what a person deleted is not sent upstream again and an edit is sent as edited.
"""

from __future__ import annotations

from tests.e2e_harness import BotUnderTest
from tests.fakes.relaydance import Script
from tests.fakes.signing import message_changed, message_deleted, message_event


async def test_deleted_and_edited_messages_in_a_pane_thread(bot: BotUnderTest) -> None:
    bot.slack.add_channel("D1", user="U1")
    pane = bot.slack.seed_message("D1", "", user="UBOT", bot_id="BBOT")
    bot.slack.messages["D1"][pane]["subtype"] = "assistant_app_thread"

    def typed(text: str) -> dict[str, object]:
        return message_event(
            text=text, user="U1", channel="D1", channel_type="im", thread_ts=pane, parent_user_id="UBOT"
        )

    secret = typed("my password is hunter2, oops")
    bot.relay.push(Script.stream(["Noted."]))
    await bot.send(secret)
    await bot.answered(1)
    wrong = typed("the deploy is on Monday")
    bot.relay.push(Script.stream(["Monday, then."]))
    await bot.send(wrong)
    await bot.answered(2)

    await bot.send(message_deleted(channel="D1", deleted_ts=secret["ts"], thread_ts=pane, channel_type="im"))
    await bot.send(
        message_changed(
            channel="D1", ts=wrong["ts"], text="the deploy is on Tuesday", thread_ts=pane, channel_type="im"
        )
    )
    await bot.idle()
    bot.relay.push(Script.stream(["Tuesday."]))
    await bot.send(typed("so when is it?"))
    await bot.answered(3)
    sent = str(bot.relay.requests[-1].json["messages"])
    assert "hunter2" not in sent
    assert "the deploy is on Tuesday" in sent and "Monday" not in sent.replace("Monday, then.", "")
