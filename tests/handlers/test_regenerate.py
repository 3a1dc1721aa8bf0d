"""Regenerate on every kind of answer, pressed as Slack sends it: a thread summary (the shortcut and
`@bot summarize`), a channel recap (`/recap`) and `/ask` each replay the same request and post a new
answer in the same place; an answer whose record is gone tells the presser so, privately.

Every press is a signed `block_actions` payload built from the final message as the fake Slack
shows it, so the answer id is the one the bot drew on its Regenerate button.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.model import Conversation
from bot.slack.blocks import ACTION_REGENERATE, final_controls, message_blocks
from bot.text.summary_prompts import RECAP_INSTRUCTIONS, SUMMARY_INSTRUCTIONS
from tests.e2e_harness import BotUnderTest
from tests.fakes.interactions import block_actions, buttons
from tests.fakes.relaydance import Request, Script
from tests.fakes.signing import app_mention, message_event
from tests.fakes.slack import FakeSlack

REGENERATE_REFUSED = "I can't regenerate this answer any more"


class Keys:
    """The Redis keys these tests look at, as bot/stores spell them."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def messages(self, conv: Conversation) -> str:
        return f"{self.prefix}:msgs:{conv.id}"

    def answer(self, answer_id: str) -> str:
        return f"{self.prefix}:answer:{answer_id}"


def ago(seconds: float) -> str:
    """A Slack ts (epoch seconds) that many seconds in the past."""
    return f"{time.time() - seconds:.6f}"


def content(request: Request) -> str:
    return "\n".join(m["content"] for m in request.json["messages"])


def sources(request: Request) -> list[str]:
    """The numbered source messages (`[n] author (link): text`) a summary or recap request quotes."""
    return re.findall(r"^\[\d+\] .*$", request.json["messages"][-1]["content"], re.MULTILINE)


def answer_id_on(slack: FakeSlack, channel: str, ts: str) -> str:
    """The answer id the final message's Regenerate button carries."""
    answer_id = buttons(slack.message(channel, ts).get("blocks")).get(ACTION_REGENERATE)
    assert answer_id, f"no Regenerate button on {slack.message(channel, ts)!r}"
    return answer_id


async def press_regenerate(bot: BotUnderTest, *, channel: str, ts: str, user: str = "U1") -> None:
    payload = block_actions(
        ACTION_REGENERATE, user=user, message=bot.slack.message(channel, ts), channel=channel
    )
    response = await bot.send_interaction(payload)
    assert response.status_code == 200


def shortcut(slack: FakeSlack, channel: str, ts: str, *, user: str = "U1") -> dict[str, Any]:
    """The `message_action` payload Slack sends when `user` picks "Summarize thread" on a message."""
    return {
        "type": "message_action",
        "token": "legacy-verification-token",
        "action_ts": "1700000999.000001",
        "team": {"id": "T1", "domain": "fake"},
        "user": {"id": user, "username": user.lower(), "team_id": "T1", "name": user.lower()},
        "channel": {"id": channel, "name": "general"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": "summarize_thread",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "response_url": f"{slack.base_url}/response/shortcut",
        "message_ts": ts,
        "message": slack.message(channel, ts),
    }


# -- thread summaries ------------------------------------------------------------------------------

THREAD = [
    "Should the migration run on Saturday? marker sm01",
    "Saturday is fine if ops is around. marker sm02",
    "Ops confirmed, Saturday 09:00. marker sm03",
    "I'll write the runbook. marker sm04",
]


async def summarize_by_shortcut(bot: BotUnderTest, redis: aioredis.Redis, keys: Keys) -> str:
    """Seed the thread in Slack only and pick the shortcut on a reply; returns the root's ts."""
    root = bot.slack.seed_message("C1", THREAD[0], "U2")
    replies = [
        bot.slack.seed_message("C1", t, "U1" if i % 2 else "U2", thread_ts=root)
        for i, t in enumerate(THREAD[1:])
    ]
    assert (await bot.send_interaction(shortcut(bot.slack, "C1", replies[1]))).status_code == 200
    return root


async def summarize_by_mention(bot: BotUnderTest, redis: aioredis.Redis, keys: Keys) -> str:
    """The thread arrives as events (so Redis has it), then `@bot summarize` in it; returns the root ts."""
    root = message_event(text=THREAD[0], user="U2")
    replies = [
        message_event(text=text, user="U1" if i % 2 else "U2", thread_ts=root["ts"])
        for i, text in enumerate(THREAD[1:])
    ]
    for event in (root, *replies):
        await bot.send(event)
    # Events are acknowledged before they are recorded: wait until Redis holds the root and every
    # reply, so the summary (which reads Redis) sees the whole thread.
    where = [(keys.messages(Conversation("T1", "C1", None)), root["ts"])]
    where += [(keys.messages(Conversation("T1", "C1", root["ts"])), r["ts"]) for r in replies]
    async with asyncio.timeout(5):
        # Redis is polled: it has no change event to wait on.
        while not all([await redis.hexists(key, ts) for key, ts in where]):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await bot.send(app_mention(text="<@UBOT> summarize", user="U1", thread_ts=root["ts"]))
    return str(root["ts"])


@pytest.mark.parametrize("start", [summarize_by_shortcut, summarize_by_mention], ids=["shortcut", "mention"])
async def test_regenerate_on_a_thread_summary_summarizes_the_same_thread_again_in_it(
    bot: BotUnderTest, start: Any, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    bot.relay.push(
        Script.stream(["Gist: ", "Saturday 09:00."]), Script.stream(["Gist: ", "migration on Saturday."])
    )
    root = await start(bot, redis_client, Keys(redis_prefix))
    await bot.answered(1)
    [first_post] = bot.slack.calls_to("chat.postMessage")
    first_ts = first_post.response["ts"]
    assert first_post.params["thread_ts"] == root
    answer_id_on(bot.slack, "C1", first_ts)

    await press_regenerate(bot, channel="C1", ts=first_ts)
    await bot.answered(2)

    first, second = bot.relay.requests
    assert (
        first.json["messages"][0]
        == second.json["messages"][0]
        == {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    )
    # The same thread is read again: the second request quotes every source message the first
    # quoted, in the same order, with the same authors and links (today the first summary, now a
    # reply in the thread, comes after them).
    assert all(text in content(first) for text in THREAD)
    assert sources(second)[: len(sources(first))] == sources(first)
    posts = bot.slack.calls_to("chat.postMessage")
    assert [(p.params["channel"], p.params["thread_ts"]) for p in posts] == [("C1", root), ("C1", root)]
    assert bot.slack.message("C1", first_ts)["text"] == "Gist: Saturday 09:00."  # the first summary stays
    second_ts = posts[1].response["ts"]
    assert bot.slack.message("C1", second_ts)["text"] == "Gist: migration on Saturday."
    assert answer_id_on(bot.slack, "C1", second_ts) != answer_id_on(bot.slack, "C1", first_ts)
    assert bot.slack.ephemeral == []


# -- channel recaps --------------------------------------------------------------------------------


async def test_regenerate_on_a_recap_recaps_the_same_channel_and_period_again_in_the_channel(
    bot: BotUnderTest,
) -> None:
    recent = [f"Release {i} shipped, marker rc{i}" for i in range(3)]
    for i, text in enumerate(recent):
        bot.slack.seed_message("C1", text, "U1" if i % 2 else "U2", ts=ago(3600 * (3 - i)))
    bot.slack.seed_message("C1", "Ancient history, marker old1", "U2", ts=ago(3 * 86_400))
    bot.relay.push(Script.stream(["Topics: ", "releases."]), Script.stream(["Topics: ", "three releases."]))

    assert (await bot.command("/recap", "24h", channel="C1")).status_code == 200
    await bot.answered(1)
    [first_post] = bot.slack.calls_to("chat.postMessage")
    first_ts = first_post.response["ts"]
    assert first_post.params["channel"] == "C1" and first_post.params.get("thread_ts") is None

    await press_regenerate(bot, channel="C1", ts=first_ts)
    await bot.answered(2)

    first, second = bot.relay.requests
    assert (
        first.json["messages"][0]
        == second.json["messages"][0]
        == {"role": "system", "content": RECAP_INSTRUCTIONS}
    )
    assert all(text in content(first) for text in recent)
    assert "marker old1" not in content(first) + content(second)  # the same period: older ones stay out
    # The same title (channel and period) and the same source messages, in order.
    assert second.json["messages"][-1]["content"].startswith("Title: Recap of #C1 (24h)\n")
    assert first.json["messages"][-1]["content"].startswith("Title: Recap of #C1 (24h)\n")
    assert sources(second)[: len(sources(first))] == sources(first)
    posts = bot.slack.calls_to("chat.postMessage")
    assert [(p.params["channel"], p.params.get("thread_ts")) for p in posts] == [("C1", None), ("C1", None)]
    assert bot.slack.message("C1", first_ts)["text"] == "Topics: releases."
    assert bot.slack.message("C1", posts[1].response["ts"])["text"] == "Topics: three releases."
    assert bot.slack.ephemeral == []


async def recap_then_regenerate(bot: BotUnderTest) -> tuple[Request, Request]:
    for i in range(3):
        bot.slack.seed_message("C1", f"Release {i} shipped, marker rc{i}", "U2", ts=ago(3600 * (3 - i)))
    bot.relay.push(Script.stream(["Topics: ", "releases."]), Script.stream(["Topics: ", "three releases."]))
    await bot.command("/recap", "24h", channel="C1")
    await bot.answered(1)
    await press_regenerate(bot, channel="C1", ts=bot.slack.calls_to("chat.postMessage")[0].response["ts"])
    await bot.answered(2)
    first, second = bot.relay.requests
    return first, second


async def test_a_regenerated_recap_sends_exactly_the_first_recaps_request(bot: BotUnderTest) -> None:
    """Regenerate asks for another take on the same messages, not a recap of the rejected recap."""
    first, second = await recap_then_regenerate(bot)
    assert not any("RelayDance (bot)" in line for line in sources(second)), sources(second)
    assert second.json["messages"] == first.json["messages"]


# -- /ask --------------------------------------------------------------------------------------------


async def test_regenerate_on_an_ask_answer_asks_the_same_question_again_in_its_thread(
    bot: BotUnderTest,
) -> None:
    bot.slack.seed_message("C1", "Keys live in Vault, marker ak01", "U2", ts=ago(600))
    bot.relay.push(Script.stream(["Use the runbook."]), Script.stream(["Run vault rotate."]))

    assert (await bot.command("/ask", "how do I rotate keys?", user="U1", channel="C1")).status_code == 200
    await bot.answered(1)
    question, first_post = bot.slack.calls_to("chat.postMessage")
    question_ts, first_ts = question.response["ts"], first_post.response["ts"]
    assert first_post.params["thread_ts"] == question_ts

    await press_regenerate(bot, channel="C1", ts=first_ts)
    await bot.answered(2)

    first, second = bot.relay.requests
    assert second.json["messages"] == first.json["messages"]  # the same question, the same context
    assert second.json["messages"][-1] == {"role": "user", "content": "ada: how do I rotate keys?"}
    assert "marker ak01" in second.json["messages"][1]["content"]  # quoted in the user turn
    posts = bot.slack.calls_to("chat.postMessage")
    assert len(posts) == 3  # the question is not posted again
    assert posts[2].params["channel"] == "C1" and posts[2].params["thread_ts"] == question_ts
    assert bot.slack.message("C1", first_ts)["text"] == "Use the runbook."
    assert bot.slack.message("C1", posts[2].response["ts"])["text"] == "Run vault rotate."
    assert bot.slack.ephemeral == []


# -- an answer whose record is gone ------------------------------------------------------------------


async def test_regenerate_on_an_answer_the_bot_no_longer_knows_tells_the_presser_and_starts_nothing(
    bot: BotUnderTest,
) -> None:
    """A message from long ago: its Regenerate button names an answer id Redis has never held."""
    root = bot.slack.seed_message("C1", "An old question", "U1")
    old = bot.slack.seed_message(
        "C1",
        "An old answer.",
        "UBOT",
        thread_ts=root,
        bot_id="BBOT",
        blocks=message_blocks("An old answer.", final_controls("0123456789abcdef")),
    )

    await press_regenerate(bot, channel="C1", ts=old, user="U2")

    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.params["user"] == "U2" and note.params["channel"] == "C1"
    assert note.params["thread_ts"] == root
    assert REGENERATE_REFUSED in note.params["text"]
    # The note is sent after the decision not to replay: anything started would be counted by now.
    assert bot.running.parts.tasks.started == 0
    assert bot.relay.requests == []
    assert bot.slack.calls_to("chat.postMessage") == []


async def test_regenerate_after_the_answer_record_expired_tells_the_presser_and_starts_nothing(
    bot: BotUnderTest, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    bot.relay.push(Script.stream(["Blue-green."]))
    mention = app_mention(text="<@UBOT> how should we deploy?", user="U1")
    await bot.send(mention)
    await bot.answered(1)
    ts = bot.slack.calls_to("chat.postMessage")[0].response["ts"]
    answer_id = answer_id_on(bot.slack, "C1", ts)
    # The record's TTL ran out: Redis no longer holds it.
    assert await redis_client.delete(Keys(redis_prefix).answer(answer_id)) == 1

    await press_regenerate(bot, channel="C1", ts=ts, user="U1")

    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.params["user"] == "U1" and note.params["thread_ts"] == mention["ts"]
    assert REGENERATE_REFUSED in note.params["text"]
    assert bot.running.parts.tasks.started == 1  # only the first answer
    assert len(bot.relay.requests) == 1
    assert len(bot.slack.calls_to("chat.postMessage")) == 1
    assert bot.slack.message("C1", ts)["text"] == "Blue-green."
