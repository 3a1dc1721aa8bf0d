"""The one access decision, through every door that reads a conversation for someone: a DM only
for its own person, private channels and group DMs only for members, public channels not for
guests outside them. A refusal says why, privately; nothing is read, sent upstream or posted."""

from __future__ import annotations

import pytest

from tests.e2e_harness import BotUnderTest
from tests.fakes.relaydance import Script
from tests.fakes.signing import message_event
from tests.handlers.test_commands import assert_nothing_else_happened, ephemeral, link_to


@pytest.fixture
def dms(bot: BotUnderTest) -> dict[str, str]:
    """U1's and U2's DMs with the bot, each holding a thread."""
    roots = {}
    for channel, user in (("D1", "U1"), ("D2", "U2")):
        bot.slack.add_channel(channel, user=user)
        roots[channel] = bot.slack.seed_message(channel, f"private note of {user}, marker dm{user}", user)
        bot.slack.seed_message(channel, "a reply", user, thread_ts=roots[channel])
    return roots


async def test_summarize_refuses_someone_elses_dm(bot: BotUnderTest, dms: dict[str, str]) -> None:
    answer = ephemeral(await bot.command("/summarize", link_to("D2", dms["D2"]), user="U1"))
    assert "someone else's direct message" in answer
    await assert_nothing_else_happened(bot)
    assert bot.relay.requests == []


async def test_summarize_of_ones_own_dm_is_allowed(bot: BotUnderTest, dms: dict[str, str]) -> None:
    bot.relay.push(Script.stream(["Gist: a note."]))
    answer = ephemeral(await bot.command("/summarize", link_to("D1", dms["D1"]), user="U1"))
    assert "summary will appear" in answer
    await bot.answered(1)
    assert "marker dmU1" in str(bot.relay.requests[0].json["messages"])
    assert [p.params["channel"] for p in bot.slack.calls_to("chat.postMessage")] == ["D1"]


async def test_the_assistant_pane_refuses_someone_elses_dm(bot: BotUnderTest, dms: dict[str, str]) -> None:
    pane = bot.slack.seed_message("D1", "", user="UBOT", bot_id="BBOT")
    bot.slack.messages["D1"][pane]["subtype"] = "assistant_app_thread"
    typed = message_event(
        text=f"summarize {link_to('D2', dms['D2'])}",
        user="U1",
        channel="D1",
        channel_type="im",
        thread_ts=pane,
        parent_user_id="UBOT",
    )
    await bot.send(typed)
    await bot.idle()
    assert bot.relay.requests == []
    said = [c.params["text"] for c in bot.slack.calls_to("chat.postMessage")]
    assert len(said) == 1 and "someone else's direct message" in said[0]
    assert all(c.params["channel"] == "D1" for c in bot.slack.calls_to("chat.postMessage"))


@pytest.fixture
def guest(bot: BotUnderTest) -> str:
    """U3, a multi-channel guest who is in #general (C1) only."""
    bot.slack.add_user("U3", "gwen")["is_restricted"] = True
    bot.slack.add_channel("C2", name="eng", members=["U1", "U2"])
    return "U3"


async def test_a_guest_cannot_summarize_a_public_channel_they_are_not_in(
    bot: BotUnderTest, guest: str
) -> None:
    root = bot.slack.seed_message("C2", "Roadmap, marker gs01", "U2")
    answer = ephemeral(await bot.command("/summarize", link_to("C2", root), user=guest))
    assert "can't see that channel" in answer
    await assert_nothing_else_happened(bot)
    # A full member of the workspace may, though not in the channel: it is public.
    bot.relay.push(Script.stream(["Gist: roadmap."]))
    answer = ephemeral(await bot.command("/summarize", link_to("C2", root), user="U1"))
    assert "summary will appear" in answer
    await bot.answered(1)


async def test_a_guest_in_the_channel_may_summarize_it(bot: BotUnderTest, guest: str) -> None:
    bot.slack.add_channel("C3", name="shared", members=["U1", "U3"])
    root = bot.slack.seed_message("C3", "Shared plans, marker gs02", "U1")
    bot.relay.push(Script.stream(["Gist: plans."]))
    answer = ephemeral(await bot.command("/summarize", link_to("C3", root), user=guest))
    assert "summary will appear" in answer
    await bot.answered(1)
    assert "marker gs02" in str(bot.relay.requests[0].json["messages"])
