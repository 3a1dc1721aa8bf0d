"""Slack's agent experience (`features.agent_view`): the DM is the app's Messages tab.

Opening it arrives as `app_home_opened` with `tab: "messages"`; the suggested prompts are pinned
to the top of the tab (no `thread_ts`); a message typed there is top level and starts a thread the
answer goes in; `app_context_changed` says which channel the user is looking at.
"""

from __future__ import annotations

from typing import Any

import pytest

from handlers.assistant import STATIC_PROMPTS
from tests.e2e_harness import BotUnderTest
from tests.fakes.relaydance import Script
from tests.fakes.signing import message_event, new_ts


def messages_tab_opened(user: str = "U1", channel: str = "D1") -> dict[str, Any]:
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": "messages",
        "event_ts": new_ts(),
    }


def context_changed(channel: str | None, *, user: str = "U1", dm: str | None = "D1") -> dict[str, Any]:
    """What Slack sends when the user looks at another channel (entities ordered by relevance)."""
    context: dict[str, Any] = (
        {"entities": [{"type": "slack#/types/channel_id", "value": channel, "team_id": "T1"}]}
        if channel
        else {}
    )
    event: dict[str, Any] = {
        "type": "app_context_changed",
        "user": user,
        "context": context,
        "event_ts": new_ts(),
    }
    if dm is not None:
        event["channel"] = dm
    return event


def typed(text: str, *, thread_ts: str | None = None) -> dict[str, Any]:
    """U1 writing in the Messages tab: top level (a new conversation) or in one's thread."""
    return message_event(text=text, user="U1", channel="D1", channel_type="im", thread_ts=thread_ts)


@pytest.fixture
def dm(bot: BotUnderTest) -> str:
    bot.slack.add_channel("D1", user="U1")
    return "D1"


async def test_opening_the_messages_tab_pins_the_prompts_without_a_thread(bot: BotUnderTest, dm: str) -> None:
    assert (await bot.send(messages_tab_opened())).status_code == 200
    [call] = await bot.slack.wait_for("assistant.threads.setSuggestedPrompts")
    assert call.ok and call.params["channel_id"] == dm and "thread_ts" not in call.params
    assert call.params["prompts"] == [dict(p) for p in STATIC_PROMPTS]
    await bot.idle()
    assert bot.slack.calls_to("views.publish") == []  # the Home tab is not what was opened


async def test_the_channel_in_view_goes_into_the_prompts_and_the_recap(bot: BotUnderTest, dm: str) -> None:
    bot.slack.seed_message("C1", "deploy moved to Friday", user="U2")
    await bot.send(messages_tab_opened())
    await bot.slack.wait_for("assistant.threads.setSuggestedPrompts")
    await bot.send(context_changed("C1"))
    calls = await bot.slack.wait_for("assistant.threads.setSuggestedPrompts", count=2)
    refreshed = calls[1].params
    assert refreshed["channel_id"] == dm and "thread_ts" not in refreshed
    assert any(p["message"].startswith("Recap <#C1>") for p in refreshed["prompts"])

    bot.relay.push(Script.stream(["Topics: the deploy moved."]))
    ask = typed("Recap the channel I'm viewing for the last 24 hours")  # the static prompt, clicked
    await bot.send(ask)
    await bot.answered(1)
    [post] = [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") == dm]
    assert post.params["thread_ts"] == ask["ts"]
    sent = "\n".join(m["content"] for m in bot.relay.requests[0].json["messages"])
    assert "deploy moved to Friday" in sent


async def test_the_viewing_prompt_without_a_known_channel_says_what_to_do(bot: BotUnderTest, dm: str) -> None:
    ask = typed("Recap the channel I'm viewing for the last 24 hours")
    await bot.send(ask)
    [reply] = await bot.slack.wait_for("chat.postMessage")
    assert reply.params["thread_ts"] == ask["ts"] and "recap #channel" in reply.params["text"]
    await bot.idle()
    assert bot.relay.requests == []


async def test_a_question_starts_a_thread_with_status_title_and_streamed_answer(
    bot: BotUnderTest, dm: str
) -> None:
    bot.relay.push(Script.stream(["Every ", "90 days."], first_delay=0.2))
    ask = typed("How often should we rotate keys?")
    await bot.send(ask)
    await bot.answered(1)
    thinking, cleared = bot.slack.calls_to("assistant.threads.setStatus")
    assert (thinking.params["channel_id"], thinking.params["thread_ts"]) == (dm, ask["ts"])
    assert thinking.params["status"] and cleared.params["status"] == ""
    [title] = bot.slack.calls_to("assistant.threads.setTitle")
    assert (
        title.params["thread_ts"] == ask["ts"] and title.params["title"] == "How often should we rotate keys?"
    )
    [post] = bot.slack.calls_to("chat.postMessage")
    assert post.params["thread_ts"] == ask["ts"]
    assert bot.slack.message(dm, post.response["ts"])["text"] == "Every 90 days."


async def test_each_top_level_message_is_a_conversation_of_its_own(bot: BotUnderTest, dm: str) -> None:
    bot.relay.push(Script.stream(["Paris."]), Script.stream(["Blue."]))
    await bot.send(typed("Capital of France?"))
    await bot.answered(1)
    await bot.send(typed("Colour of the sky?"))
    await bot.answered(2)
    second = [(m["role"], m["content"]) for m in bot.relay.requests[1].json["messages"][1:]]
    assert second == [("user", "ada: Colour of the sky?")]


async def test_context_events_without_a_channel_or_a_user_change_nothing(bot: BotUnderTest, dm: str) -> None:
    await bot.send(context_changed(None))
    anonymous = context_changed("C1")
    del anonymous["user"]
    await bot.send(anonymous)
    await bot.send(context_changed("C1", dm=None))  # no DM known yet: nothing to refresh
    await bot.idle()
    assert bot.slack.calls_to("assistant.threads.setSuggestedPrompts") == []
