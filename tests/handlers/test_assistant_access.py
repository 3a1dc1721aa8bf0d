"""The assistant pane's access checks, end to end: "recap <#channel>" and "summarize <link>" typed in
the pane are refused for a channel the bot is not in or a private channel the user is not a member
of, and a link that is not a message link gets the parse error; the allowed cases stream the recap
or the summary into the pane's thread.

A refusal is posted by Bolt's `say`, i.e. chat.postMessage in the pane's thread; it is the last
thing the listener does, so once it is seen, anything else the bot was going to start has started.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.text.summary_prompts import RECAP_INSTRUCTIONS, SUMMARY_INSTRUCTIONS
from bot.text.user_input import parse_message_link
from tests.e2e_harness import BotUnderTest
from tests.fakes.interactions import assistant_thread_started
from tests.fakes.relaydance import Script
from tests.fakes.signing import message_event
from tests.fakes.slack import PERMALINK_BASE, Call

NOT_A_MEMBER = "I'm not a member of that channel. Invite me there first (`/invite @RelayDance`)."
CANT_READ = "I can't read that channel. Invite me there first (`/invite @RelayDance`)."


def ago(seconds: float) -> str:
    """A Slack ts (epoch seconds) that many seconds in the past."""
    return f"{time.time() - seconds:.6f}"


def link_to(channel: str, ts: str, *, thread_ts: str | None = None, base: str = PERMALINK_BASE) -> str:
    """A message link as "Copy link" gives it, escaped as it arrives inside a message's text."""
    link = f"{base}/{channel}/p{ts.replace('.', '')}"
    return f"{link}?thread_ts={thread_ts}&amp;cid={channel}" if thread_ts else link


@pytest.fixture
async def pane(bot: BotUnderTest) -> str:
    """Open U1's assistant pane: the DM with the bot and the thread Slack roots there."""
    bot.slack.add_channel("D1", user="U1")
    root = bot.slack.seed_message("D1", "", user="UBOT", bot_id="BBOT")
    bot.slack.messages["D1"][root]["subtype"] = "assistant_app_thread"
    await bot.send(assistant_thread_started(thread_ts=root))
    await bot.slack.wait_for("assistant.threads.setSuggestedPrompts")
    return root


def typed(thread_ts: str, text: str) -> dict[str, Any]:
    """What U1 typing `text` in the pane delivers."""
    return message_event(
        text=text, user="U1", channel="D1", channel_type="im", thread_ts=thread_ts, parent_user_id="UBOT"
    )


def in_pane(pane: str) -> Any:
    def matches(call: Call) -> bool:
        return (
            call.method == "chat.postMessage"
            and call.params.get("channel") == "D1"
            and call.params.get("thread_ts") == pane
        )

    return matches


async def refused_with(bot: BotUnderTest, pane: str, text: str, *, target: str) -> str:
    """Type `text`, wait for the pane's one reply, check nothing else happened; return the reply."""
    await bot.send(typed(pane, text))
    [said] = await bot.slack.wait_for(in_pane(pane))
    assert said.ok
    assert bot.relay.requests == []
    assert bot.running.parts.tasks.started == 0
    # Nothing of the refused channel was read, and no "recapping…" / "reading…" status was shown.
    reads = ("conversations.history", "conversations.replies")
    assert [c for c in bot.slack.calls if c.method in reads and c.params.get("channel") == target] == []
    assert bot.slack.calls_to("assistant.threads.setStatus") == []
    assert len(bot.slack.calls_to("chat.postMessage")) == 1
    return str(said.params["text"])


async def answered_in_pane(bot: BotUnderTest, pane: str) -> str:
    """Wait for the one answer; it streamed into the pane's thread. Returns its final text."""
    await bot.answered(1)
    [post] = bot.slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "D1" and post.params["thread_ts"] == pane
    return str(bot.slack.message("D1", post.response["ts"])["text"])


# -- recap <#channel> -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("private", "expected"),
    [pytest.param(False, NOT_A_MEMBER, id="public"), pytest.param(True, CANT_READ, id="private")],
)
async def test_recap_of_a_channel_the_bot_is_not_in_is_refused_in_the_pane(
    bot: BotUnderTest, pane: str, private: bool, expected: str
) -> None:
    bot.slack.add_channel("C7", name="random", is_private=private, bot_member=False)
    bot.slack.seed_message("C7", "Not for the bot's eyes, marker hid1", "U2", ts=ago(60))
    said = await refused_with(bot, pane, "Recap <#C7|random> for the last 24 hours", target="C7")
    assert said == expected


async def test_recap_of_a_private_channel_the_user_is_not_in_is_refused_in_the_pane(
    bot: BotUnderTest, pane: str
) -> None:
    bot.slack.add_channel("G7", name="secret", is_private=True, members=["U2"])  # the bot is in it; U1 not
    bot.slack.seed_message("G7", "Private plans, marker hid2", "U2", ts=ago(60))
    said = await refused_with(bot, pane, "recap <#G7|secret>", target="G7")
    assert said == "You can't see that channel, so I won't recap it for you."


@pytest.mark.parametrize(
    "channel",
    [pytest.param("C1", id="public"), pytest.param("G8", id="private-with-the-user-in-it")],
)
async def test_recap_of_a_channel_both_can_see_streams_into_the_pane(
    bot: BotUnderTest, pane: str, channel: str
) -> None:
    if channel != "C1":
        bot.slack.add_channel(channel, name="team", is_private=True, members=["U1", "U2"])
    for i in range(3):
        bot.slack.seed_message(channel, f"Update {i}, marker up{i}", "U2", ts=ago(3600 * (3 - i)))
    bot.relay.push(Script.stream(["Topics: ", "three updates."]))

    await bot.send(typed(pane, f"Recap <#{channel}> for the last 24 hours"))
    assert await answered_in_pane(bot, pane) == "Topics: three updates."

    [request] = bot.relay.requests
    messages = request.json["messages"]
    assert messages[0] == {"role": "system", "content": RECAP_INSTRUCTIONS}
    assert all(f"marker up{i}" in messages[-1]["content"] for i in range(3))
    [status] = bot.slack.calls_to("assistant.threads.setStatus")
    assert status.params["status"] == "recapping the channel…" and status.params["thread_ts"] == pane


# -- summarize <link> --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        pytest.param("https://fake.slack.com/archives/C1/p12345", id="timestamp-too-short"),
        pytest.param("https://fake.slack.com/archives/C1/pabc1700000000000100", id="not-a-timestamp"),
        pytest.param("https://fake.example.com/archives/C1/p1700000000000100", id="not-a-slack-host"),
    ],
)
async def test_summarize_with_a_malformed_link_gets_the_parse_error_in_the_pane(
    bot: BotUnderTest, pane: str, link: str
) -> None:
    with pytest.raises(ValueError, match=".") as parse_error:
        parse_message_link(link)
    said = await refused_with(bot, pane, f"Summarize this thread: <{link}>", target="C1")
    assert said == str(parse_error.value)


async def test_summarize_a_thread_in_a_private_channel_the_user_is_not_in_is_refused_in_the_pane(
    bot: BotUnderTest, pane: str
) -> None:
    bot.slack.add_channel("G7", name="secret", is_private=True, members=["U2"])  # the bot is in it; U1 not
    root = bot.slack.seed_message("G7", "Private plans, marker hid3", "U2")
    bot.slack.seed_message("G7", "More of them, marker hid4", "U2", thread_ts=root)
    said = await refused_with(bot, pane, f"Summarize this thread: <{link_to('G7', root)}>", target="G7")
    assert said == "You can't see that channel, so I won't summarize it for you."


async def test_summarize_a_thread_in_a_channel_the_bot_is_not_in_is_refused_in_the_pane(
    bot: BotUnderTest, pane: str
) -> None:
    bot.slack.add_channel("C7", name="random", bot_member=False)
    root = bot.slack.seed_message("C7", "Not for the bot's eyes, marker hid5", "U2")
    said = await refused_with(bot, pane, f"summarize <{link_to('C7', root)}>", target="C7")
    assert said == NOT_A_MEMBER


@pytest.mark.parametrize(
    "channel",
    [pytest.param("C1", id="public"), pytest.param("G8", id="private-with-the-user-in-it")],
)
async def test_summarize_a_thread_both_can_see_streams_the_summary_into_the_pane(
    bot: BotUnderTest, pane: str, channel: str
) -> None:
    if channel != "C1":
        bot.slack.add_channel(channel, name="team", is_private=True, members=["U1", "U2"])
    root = bot.slack.seed_message(channel, "Which region? marker rg01", "U2")
    reply = bot.slack.seed_message(channel, "eu-west-1, decided. marker rg02", "U1", thread_ts=root)
    bot.relay.push(Script.stream(["Gist: ", "eu-west-1."]))

    # A link to a reply: the whole thread (from its root) is summarized.
    await bot.send(typed(pane, f"Summarize this thread: <{link_to(channel, reply, thread_ts=root)}>"))
    assert await answered_in_pane(bot, pane) == "Gist: eu-west-1."

    [request] = bot.relay.requests
    messages = request.json["messages"]
    assert messages[0] == {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    assert "marker rg01" in messages[-1]["content"] and "marker rg02" in messages[-1]["content"]
    [read] = [c for c in bot.slack.calls_to("conversations.replies") if c.params["channel"] == channel]
    assert read.params["ts"] == root
    [status] = bot.slack.calls_to("assistant.threads.setStatus")
    assert status.params["status"] == "reading the thread…" and status.params["thread_ts"] == pane


async def test_summarize_a_link_to_another_workspace_is_refused_in_the_pane(
    bot: BotUnderTest, pane: str
) -> None:
    """The same channel id in another workspace is another channel: summarizing ours would be wrong."""
    root = bot.slack.seed_message("C1", "Our own thread, marker own1", "U2")
    link = link_to("C1", root, base="https://elsewhere.slack.com/archives")
    said = await refused_with(bot, pane, f"Summarize this thread: <{link}>", target="C1")
    assert "another workspace" in said
