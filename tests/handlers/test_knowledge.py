"""Team knowledge end to end: messages recorded in one channel are found for a question in
another, quoted in the request as data with their links, and listed as the answer's sources —
only where everyone reading the answer may see them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.model import PrivateAsk
from bot.slack.blocks import ACTION_PRIVATE_ANSWER
from bot.stores.channel_settings import ChannelConfig
from bot.stores.index_search import SearchIndex
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.interactions import block_actions, buttons
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, message_changed, message_deleted, message_event
from tests.fakes.slack import FakeSlack

OLD = "1763000000.000100"  # 2025-11-13


async def said(
    bot: BotUnderTest,
    channel: str,
    text: str,
    *,
    user: str = "U2",
    ts: str | None = None,
    thread_ts: str | None = None,
) -> dict[str, object]:
    event = message_event(text=text, user=user, channel=channel, ts=ts, thread_ts=thread_ts)
    bot.slack.seed_message(channel, text, user, thread_ts=thread_ts, ts=event["ts"])
    assert (await bot.send(event)).status_code == 200
    return event


async def ops_thread(bot: BotUnderTest) -> str:
    bot.slack.add_channel("COPS", name="ops")
    await said(bot, "COPS", "How often do we rotate the staging database password?", ts=OLD)
    await said(
        bot,
        "COPS",
        "Every 90 days; the vault job does it, marker kx01",
        user="U1",
        thread_ts=OLD,
        ts="1763000100.000200",
    )
    await said(bot, "COPS", "lunch is at noon", ts="1763000200.000300")
    return OLD


def knowledge_messages(bot: BotUnderTest, index: int = 0) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = bot.relay.requests[index].json["messages"]
    return [m for m in messages if m["content"].startswith("Earlier conversations")]


async def final_text(bot: BotUnderTest, channel: str = "C1") -> str:
    post = bot.slack.calls_to("chat.postMessage")[-1]
    return str(bot.slack.message(channel, post.response["ts"])["text"])


async def test_a_mention_is_answered_from_an_old_ops_thread_and_lists_it(bot: BotUnderTest) -> None:
    root = await ops_thread(bot)
    bot.relay.push(Script.stream(["Every 90 days, by the vault job [1]."]))
    await bot.send(app_mention(text="<@UBOT> when does the staging db password get rotated?", user="U1"))
    await bot.answered()

    messages = bot.relay.requests[0].json["messages"]
    [block] = knowledge_messages(bot)
    assert block["role"] == "user" and messages[-1]["content"].startswith("ada: when does")
    assert messages.index(block) == len(messages) - 2  # just before the question
    link = f"https://fake.slack.com/archives/COPS/p{root.replace('.', '')}"
    assert f"<<<source 1 · #ops · 2025-11-13 · {link}>>>" in block["content"]
    assert "ada: Every 90 days; the vault job does it, marker kx01" in block["content"]
    assert "lunch" not in block["content"]
    text = await final_text(bot)
    assert text.startswith("Every 90 days, by the vault job [1].")
    assert "*Sources:*" in text and f"<{link}|#ops, 2025-11-13>" in text


async def test_edits_and_deletions_reach_the_index(bot: BotUnderTest) -> None:
    await ops_thread(bot)
    await bot.send(
        message_changed(
            channel="COPS",
            ts="1763000100.000200",
            thread_ts=OLD,
            user="U1",
            text="Every 60 days via cron, marker kx02",
        )
    )
    await bot.send(message_deleted(channel="COPS", deleted_ts=OLD, user="U2"))
    bot.relay.push(Script.stream(["Every 60 days [1]."]))
    await bot.send(app_mention(text="<@UBOT> how often is the vault cron run?", user="U1"))
    await bot.answered(1)
    [block] = knowledge_messages(bot)
    assert "marker kx02" in block["content"] and "marker kx01" not in block["content"]
    # Deleting the reply too leaves nothing of the thread to find.
    await bot.send(message_deleted(channel="COPS", deleted_ts="1763000100.000200", thread_ts=OLD, user="U1"))
    bot.relay.push(Script.stream(["No idea."]))
    await bot.send(app_mention(text="<@UBOT> how often is the vault cron run?", user="U1"))
    await bot.answered(2)
    assert knowledge_messages(bot, 1) == []
    assert "Sources" not in await final_text(bot)


async def test_a_private_channel_stays_out_of_a_public_answer(bot: BotUnderTest) -> None:
    bot.slack.add_channel("GSEC", name="secops", is_private=True, members=["U1", "UBOT"])
    await said(
        bot,
        "GSEC",
        "The staging database password lives in vault path kv/stg, marker kx03",
        user="U1",
        ts=OLD,
    )
    bot.relay.push(Script.stream(["I don't know."]))
    await bot.send(app_mention(text="<@UBOT> where is the staging database password?", user="U1"))
    await bot.answered(1)
    assert knowledge_messages(bot) == []
    assert "kx03" not in str(bot.relay.requests[0].json)
    # The same member asking in their own DM with the bot may have it.
    bot.slack.add_channel("D1", user="U1")
    bot.relay.push(Script.stream(["In vault [1]."]))
    dm = message_event(
        text="where is the staging database password?", user="U1", channel="D1", channel_type="im"
    )
    await bot.send(dm)
    await bot.answered(2)
    [block] = knowledge_messages(bot, 1)
    assert "marker kx03" in block["content"] and "#secops" in block["content"]
    # Someone who is not a member does not, even in their own DM.
    bot.slack.add_channel("D2", user="U2")
    bot.relay.push(Script.stream(["No idea."]))
    await bot.send(
        message_event(
            text="where is the staging database password?", user="U2", channel="D2", channel_type="im"
        )
    )
    await bot.answered(3)
    assert knowledge_messages(bot, 2) == []


async def test_dms_never_leave_their_own_conversation(bot: BotUnderTest) -> None:
    bot.slack.add_channel("D1", user="U1")
    bot.slack.add_channel("D2", user="U2")
    bot.relay.push(Script.stream(["Noted."]))
    await bot.send(
        message_event(
            text="my kubernetes token is marker kx04", user="U2", channel="D2", channel_type="im", ts=OLD
        )
    )
    await bot.answered(1)
    bot.relay.push(Script.stream(["No idea."]))
    await bot.send(
        message_event(text="what is the kubernetes token?", user="U1", channel="D1", channel_type="im")
    )
    await bot.answered(2)
    assert "kx04" not in str(bot.relay.requests[1].json)
    bot.relay.push(Script.stream(["No idea."]))
    await bot.send(app_mention(text="<@UBOT> what is the kubernetes token?", user="U2"))
    await bot.answered(3)
    assert "kx04" not in str(bot.relay.requests[2].json)  # its own author, but in a channel


async def test_a_guest_gets_only_their_channels_and_guests_narrow_an_answer(bot: BotUnderTest) -> None:
    bot.slack.add_user("U3", "gwen")["is_restricted"] = True
    bot.slack.add_channel("C1", name="general", members=["U1", "U2", "U3", "UBOT"])
    await ops_thread(bot)
    bot.slack.add_channel("COPS", name="ops", members=["U1", "U2", "UBOT"])
    bot.relay.push(Script.stream(["No idea."]))
    await bot.send(app_mention(text="<@UBOT> how often is the staging database password rotated?", user="U3"))
    await bot.answered(1)
    assert knowledge_messages(bot) == []
    # A full member asking in #general, where the guest would read it: not from #ops either.
    bot.relay.push(Script.stream(["No idea."]))
    await bot.send(app_mention(text="<@UBOT> how often is the staging database password rotated?", user="U1"))
    await bot.answered(2)
    assert knowledge_messages(bot, 1) == []
    # In a channel without guests it is.
    bot.slack.add_channel("C2", name="eng", members=["U1", "U2", "UBOT"])
    bot.relay.push(Script.stream(["Every 90 days [1]."]))
    await bot.send(
        app_mention(
            text="<@UBOT> how often is the staging database password rotated?", user="U1", channel="C2"
        )
    )
    await bot.answered(3)
    assert len(knowledge_messages(bot, 2)) == 1


async def test_the_channel_setting_turns_it_off(bot: BotUnderTest) -> None:
    await ops_thread(bot)
    await bot.running.parts.stores.channels.set("T1", "C1", ChannelConfig(knowledge=False))
    bot.relay.push(Script.stream(["No idea."]))
    await bot.send(app_mention(text="<@UBOT> how often is the staging database password rotated?", user="U1"))
    await bot.answered(1)
    assert knowledge_messages(bot) == []


async def test_ask_uses_team_knowledge_and_cites_it(bot: BotUnderTest) -> None:
    await ops_thread(bot)
    bot.relay.push(Script.stream(["Every 90 days."]))  # cites nothing: the best match is listed
    response = await bot.command("/ask", "how often is the staging database password rotated?")
    assert response.status_code == 200
    await bot.answered(1)
    [block] = knowledge_messages(bot)
    assert "marker kx01" in block["content"]
    post = [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("thread_ts")][-1]
    text = str(bot.slack.message("C1", post.response["ts"])["text"])
    assert "*Sources:*" in text and "#ops, 2025-11-13" in text


async def test_knowledge_threads_zero_turns_it_off_and_unlisted_channels_are_not_indexed(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    for n, overrides in enumerate(({"knowledge_threads": 0}, {"knowledge_channels": ("C1",)})):
        settings = make_settings(slack, relay, redis_url=redis_url, prefix=f"{redis_prefix}:{n}", **overrides)
        async with bot_under_test(slack, relay, settings) as bot:
            await ops_thread(bot)
            bot.relay.push(Script.stream(["No idea."]))
            await bot.send(
                app_mention(text="<@UBOT> how often is the staging database password rotated?", user="U1")
            )
            await bot.answered(1)
            assert knowledge_messages(bot) == []
        relay.requests.clear()


async def secops_thread(bot: BotUnderTest) -> None:
    bot.slack.add_channel("GSEC", name="secops", is_private=True, members=["U1", "UBOT"])
    await said(
        bot,
        "GSEC",
        "The staging database password lives in vault path kv/stg, marker kx05",
        user="U1",
        ts=OLD,
    )


def offers(bot: BotUnderTest) -> list[dict[str, object]]:
    return [e for e in bot.slack.ephemeral if ACTION_PRIVATE_ANSWER in buttons(e.get("blocks"))]  # type: ignore[arg-type]


async def test_a_private_thread_the_asker_may_see_is_offered_privately_and_answered_in_their_dm(
    bot: BotUnderTest,
) -> None:
    await secops_thread(bot)
    bot.relay.push(Script.stream(["I don't know."]))
    mention = app_mention(text="<@UBOT> where is the staging database password kept?", user="U1")
    await bot.send(mention)
    await bot.answered(1)
    await bot.idle()
    # The answer in #general (everyone can read it) has nothing from #secops …
    assert knowledge_messages(bot) == [] and "kx05" not in str(bot.relay.requests[0].json)
    # … and the asker alone is told, in the thread, that more was found, without what it says.
    [offer] = offers(bot)
    assert offer["user"] == "U1" and offer["channel"] == "C1" and offer["thread_ts"] == mention["ts"]
    assert "<#GSEC>" in str(offer["text"]) and "kx05" not in str(offer)
    assert all("kx05" not in str(m) for m in bot.slack.channel_messages("C1"))

    # "Answer me privately": a new answer in the asker's DM, which may use #secops.
    bot.relay.push(Script.stream(["In vault path kv/stg [1]."]))
    press = block_actions(ACTION_PRIVATE_ANSWER, user="U1", ephemeral=offer)
    assert (await bot.send_interaction(press)).status_code == 200
    await bot.answered(2)
    [block] = knowledge_messages(bot, 1)
    assert "marker kx05" in block["content"] and "#secops" in block["content"]
    assert (
        bot.relay.requests[1]
        .json["messages"][-1]["content"]
        .endswith("where is the staging database password kept?")
    )
    # Posted to the user id, which is the bot's DM with them.
    [opening] = [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") == "U1"]
    dm = str(opening.response["channel"])
    assert bot.slack.channels[dm]["is_im"] and bot.slack.channels[dm]["user"] == "U1"
    intro = bot.slack.message(dm, opening.response["ts"])
    assert str(intro["text"]).startswith("You asked in <#C1>:\n>")
    answer = bot.slack.thread_messages(dm, intro["ts"])[-1]
    assert "#secops" in str(answer["text"]) and "Sources" in str(answer["text"])
    # A second press (or Slack's retry) does not answer twice.
    assert (await bot.send_interaction(press)).status_code == 200
    await bot.idle()
    assert len(bot.relay.requests) == 2


async def test_no_offer_when_the_asker_cannot_see_it_either_or_it_may_be_used(bot: BotUnderTest) -> None:
    await secops_thread(bot)
    bot.relay.push(Script.stream(["No idea."]))
    await bot.send(app_mention(text="<@UBOT> where is the staging database password kept?", user="U2"))
    await bot.answered(1)
    await bot.idle()
    assert offers(bot) == []  # U2 is not in #secops: not even its name is mentioned
    # In the member's own DM the thread is used directly: nothing to offer.
    bot.slack.add_channel("D1", user="U1")
    bot.relay.push(Script.stream(["In vault [1]."]))
    await bot.send(
        message_event(
            text="where is the staging database password kept?", user="U1", channel="D1", channel_type="im"
        )
    )
    await bot.answered(2)
    await bot.idle()
    assert offers(bot) == [] and len(knowledge_messages(bot, 1)) == 1


async def test_ask_offers_the_private_answer_too(bot: BotUnderTest) -> None:
    await secops_thread(bot)
    bot.relay.push(Script.stream(["No idea."]))
    assert (await bot.command("/ask", "where is the staging database password kept?")).status_code == 200
    await bot.answered(1)
    await bot.idle()
    [offer] = offers(bot)
    assert offer["user"] == "U1" and "<#GSEC>" in str(offer["text"])
    ask = PrivateAsk.from_value(buttons(offer["blocks"])[ACTION_PRIVATE_ANSWER])  # type: ignore[arg-type]
    assert ask is not None and ask.text == "where is the staging database password kept?"


async def test_channels_are_decided_together_and_the_guest_check_runs_once(bot: BotUnderTest) -> None:
    bot.slack.add_channel("C1", name="general", members=["U1", "U2", "UBOT"])
    for n in range(3):
        bot.slack.add_channel(f"CK{n}", name=f"team{n}")
        await said(bot, f"CK{n}", f"the staging database password rotates every {n + 1} weeks, marker kd{n}")
    bot.relay.push(Script.stream(["Depends [1]."]))
    await bot.send(app_mention(text="<@UBOT> how often does the staging database password rotate?"))
    await bot.answered()
    [block] = knowledge_messages(bot)
    assert all(f"marker kd{n}" in block["content"] for n in range(3))
    members = [c for c in bot.slack.calls_to("conversations.members") if c.params.get("channel") == "C1"]
    assert len(members) == 1  # whether a guest reads #general: asked once for the three channels


# -- the same flows on the Redis Query Engine (KNOWLEDGE_INDEX=search) ---------------------------


@pytest.fixture
async def search_bot(
    slack: FakeSlack, relay: FakeRelayDance, search_redis_url: str, redis_prefix: str
) -> AsyncIterator[BotUnderTest]:
    settings = make_settings(
        slack, relay, redis_url=search_redis_url, prefix=redis_prefix, knowledge_index="search"
    )
    async with bot_under_test(slack, relay, settings) as running_bot:
        index = running_bot.running.parts.stores.index
        assert isinstance(index, SearchIndex)
        yield running_bot
        await index.drop()  # on the bot's own client, before it closes
    client = aioredis.Redis.from_url(search_redis_url, decode_responses=True)
    keys = [key async for key in client.scan_iter(match=f"{redis_prefix}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_the_query_engine_answers_from_the_ops_thread(search_bot: BotUnderTest) -> None:
    await test_a_mention_is_answered_from_an_old_ops_thread_and_lists_it(search_bot)


async def test_the_query_engine_follows_edits_and_deletions(search_bot: BotUnderTest) -> None:
    await test_edits_and_deletions_reach_the_index(search_bot)


async def test_the_query_engine_keeps_a_private_channel_out(search_bot: BotUnderTest) -> None:
    await test_a_private_channel_stays_out_of_a_public_answer(search_bot)
