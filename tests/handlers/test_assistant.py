"""Slack's assistant pane: suggested prompts for a new thread, then status, title and streamed answers.

The pane is a thread in the app's DM: `assistant_thread_started` names it, and what the user types
there arrives as `message` events with `channel_type: "im"` and that thread's `thread_ts`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e_harness import BotUnderTest
from tests.fakes.interactions import assistant_thread_started
from tests.fakes.relaydance import Script
from tests.fakes.signing import message_event


@pytest.fixture
def pane(bot: BotUnderTest) -> str:
    """Open the assistant pane of U1: the DM with the bot, and the thread Slack roots there."""
    bot.slack.add_channel("D1", user="U1")
    root = bot.slack.seed_message("D1", "", user="UBOT", bot_id="BBOT")
    bot.slack.messages["D1"][root]["subtype"] = "assistant_app_thread"  # how Slack roots the pane's thread
    return root


def typed(thread_ts: str, text: str) -> dict[str, Any]:
    """What U1 typing `text` in the pane delivers."""
    return message_event(
        text=text, user="U1", channel="D1", channel_type="im", thread_ts=thread_ts, parent_user_id="UBOT"
    )


async def test_a_new_thread_gets_prompts_including_a_recap_of_the_channel_being_viewed(
    bot: BotUnderTest, pane: str
) -> None:
    event = assistant_thread_started(
        thread_ts=pane, context={"channel_id": "C1", "team_id": "T1", "enterprise_id": None}
    )
    assert (await bot.send(event)).status_code == 200
    [call] = await bot.slack.wait_for("assistant.threads.setSuggestedPrompts")
    assert call.ok
    assert call.params["channel_id"] == "D1" and call.params["thread_ts"] == pane
    messages = [p["message"] for p in call.params["prompts"]]
    assert any(m.startswith("Recap <#C1>") for m in messages), messages
    assert all(p["title"] for p in call.params["prompts"])


async def test_a_thread_opened_from_no_channel_gets_prompts_naming_no_channel(
    bot: BotUnderTest, pane: str
) -> None:
    await bot.send(assistant_thread_started(thread_ts=pane))
    [call] = await bot.slack.wait_for("assistant.threads.setSuggestedPrompts")
    assert call.params["prompts"] and not any("<#" in p["message"] for p in call.params["prompts"])


async def test_a_question_shows_a_status_until_the_first_token_and_streams_into_the_thread(
    bot: BotUnderTest, pane: str
) -> None:
    bot.relay.push(Script.stream(["Rotate them ", "every 90 days."], first_delay=0.2))
    await bot.send(typed(pane, "How often should we rotate keys?"))
    await bot.answered(1)

    first_token = bot.relay.requests[0].first_piece_at
    assert first_token is not None
    thinking, cleared = bot.slack.calls_to("assistant.threads.setStatus")
    assert thinking.params["status"] and thinking.received_at < first_token
    assert cleared.params["status"] == "" and cleared.received_at >= first_token
    assert thinking.ok and cleared.ok
    for call in (thinking, cleared):
        assert call.params["channel_id"] == "D1" and call.params["thread_ts"] == pane

    [title] = bot.slack.calls_to("assistant.threads.setTitle")
    assert title.params["channel_id"] == "D1" and title.params["thread_ts"] == pane
    assert title.params["title"] == "How often should we rotate keys?"

    [post] = bot.slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "D1" and post.params["thread_ts"] == pane
    assert bot.slack.message("D1", post.response["ts"])["text"] == "Rotate them every 90 days."


async def test_follow_up_questions_carry_the_threads_history_and_keep_the_title(
    bot: BotUnderTest, pane: str
) -> None:
    bot.relay.push(Script.stream(["Every 90 days."]), Script.stream(["Use the rotation page."]))
    await bot.send(typed(pane, "How often should we rotate keys?"))
    await bot.answered(1)
    await bot.send(typed(pane, "And how?"))
    await bot.answered(2)
    await bot.idle()

    assert len(bot.relay.requests) == 2
    messages = bot.relay.requests[1].json["messages"]
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", "ada: How often should we rotate keys?"),
        ("assistant", "Every 90 days."),
        ("user", "ada: And how?"),
    ]
    assert [c.params["title"] for c in bot.slack.calls_to("assistant.threads.setTitle")] == [
        "How often should we rotate keys?"
    ]
    posts = bot.slack.calls_to("chat.postMessage")
    assert [(p.params["channel"], p.params["thread_ts"]) for p in posts] == [("D1", pane), ("D1", pane)]


async def test_a_status_slack_refuses_does_not_cost_the_answer(bot: BotUnderTest, pane: str) -> None:
    """The status is decoration: rate limited there, the bot still answers (and says so nowhere)."""
    bot.slack.fail_next("assistant.threads.setStatus", times=2)  # 429 for "thinking…" and the clear
    bot.relay.push(Script.stream(["Every 90 days."]))
    await bot.send(typed(pane, "How often should we rotate keys?"))
    await bot.answered(1)
    assert [c.status for c in bot.slack.calls_to("assistant.threads.setStatus")] == [429, 429]
    [post] = bot.slack.calls_to("chat.postMessage")
    assert bot.slack.message("D1", post.response["ts"])["text"] == "Every 90 days."


async def test_the_channel_in_view_follows_the_panes_context_events(bot: BotUnderTest, pane: str) -> None:
    """Apps still on assistant_view: the thread's context (started, then changed) is what
    "recap the channel I'm viewing" recaps."""
    bot.slack.add_channel("C2", name="random")
    bot.slack.seed_message("C2", "lunch is at noon", user="U2")
    started = assistant_thread_started(thread_ts=pane, context={"channel_id": "C1", "team_id": "T1"})
    await bot.send(started)
    changed = {
        "type": "assistant_thread_context_changed",
        "assistant_thread": {
            "user_id": "U1",
            "context": {"channel_id": "C2", "team_id": "T1", "enterprise_id": None},
            "channel_id": "D1",
            "thread_ts": pane,
        },
        "event_ts": started["event_ts"],
    }
    await bot.send(changed)
    await bot.idle()
    assert bot.slack.calls_to("chat.update") == []  # nothing rewritten to keep the context
    bot.relay.push(Script.stream(["Lunch at noon."]))
    await bot.send(typed(pane, "Recap the channel I'm viewing for the last 24 hours"))
    await bot.answered(1)
    sent = "\n".join(m["content"] for m in bot.relay.requests[0].json["messages"])
    assert "lunch is at noon" in sent
