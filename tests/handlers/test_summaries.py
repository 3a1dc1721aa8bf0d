"""Thread summaries end to end: the "Summarize thread" shortcut, `@bot summarize` in a thread and
map-reduce for a thread too long for one request. Slack sends the shortcut as a signed, form-encoded
`payload=<json>`; the summary streams into the thread like any answer."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.text.summary_prompts import SUMMARY_INSTRUCTIONS, reduce_messages
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Request, Script
from tests.fakes.signing import app_mention, message_event
from tests.fakes.slack import FakeSlack

SUMMARY = [f"summary-piece-{i} " for i in range(12)]


def seed_thread(slack: FakeSlack, texts: list[str], *, channel: str = "C1") -> list[str]:
    """Post `texts` as one thread in Slack only (the bot never saw it); returns their ts, root first."""
    root = slack.seed_message(channel, texts[0], "U2")
    replies = [
        slack.seed_message(channel, text, "U1" if i % 2 else "U2", thread_ts=root)
        for i, text in enumerate(texts[1:])
    ]
    return [root, *replies]


async def permalinks(bot: BotUnderTest, channel: str, stamps: list[str]) -> list[str]:
    """Each message's permalink as Slack's chat.getPermalink gives it."""

    async def one(ts: str) -> str:
        response = await bot.http.post(
            f"{bot.slack.api_url}chat.getPermalink",
            data={"channel": channel, "message_ts": ts},
            headers={"Authorization": f"Bearer {bot.slack.bot_token}"},
        )
        body = response.json()
        assert body["ok"], body
        return str(body["permalink"])

    return list(await asyncio.gather(*(one(ts) for ts in stamps)))


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


def content(request: Request) -> str:
    return "\n".join(m["content"] for m in request.json["messages"])


async def test_shortcut_streams_a_summary_of_a_60_message_thread_into_it(bot: BotUnderTest) -> None:
    texts = [f"Point {i:02d}: the {i:02d}th remark, tagged zq{i:02d}x." for i in range(60)]
    stamps = seed_thread(bot.slack, texts)
    links = await permalinks(bot, "C1", stamps)
    bot.relay.push(Script.stream(SUMMARY, pace=0.01))

    # Picked on a reply in the middle of the thread: the whole thread is summarized.
    response = await bot.send_interaction(shortcut(bot.slack, "C1", stamps[30]))
    assert response.status_code == 200
    await bot.answered(1)

    posts = bot.slack.calls_to("chat.postMessage")
    assert len(posts) == 1
    assert posts[0].params["channel"] == "C1"
    assert posts[0].params["thread_ts"] == stamps[0]
    assert posts[0].params["text"] == "_Thinking…_"
    updates = [c.params["text"] for c in bot.slack.calls_to("chat.update")]
    assert len(updates) >= 3  # growing edits, then the final one
    assert all(len(a) <= len(b) for a, b in zip(updates, updates[1:], strict=False))
    assert bot.slack.message("C1", posts[0].response["ts"])["text"] == "".join(SUMMARY)

    # Redis never saw the thread: it was read from Slack, once.
    replies = bot.slack.calls_to("conversations.replies")
    assert len(replies) == 1 and replies[0].params["ts"] == stamps[0]
    sent = "\n".join(content(r) for r in bot.relay.requests)
    missing = [t for t in texts if t not in sent] + [link for link in links if link not in sent]
    assert missing == []
    final = bot.relay.requests[-1].json
    assert final["stream"] is True
    assert final["messages"][0] == {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    assert bot.slack.ephemeral == []


async def test_shortcut_on_a_message_without_replies_summarizes_that_message_in_its_thread(
    bot: BotUnderTest,
) -> None:
    ts = bot.slack.seed_message("C1", "Lone message: release is frozen until Friday.", "U2")
    bot.relay.push(Script.stream(["Gist: frozen."]))
    await bot.send_interaction(shortcut(bot.slack, "C1", ts))
    await bot.answered(1)
    posts = bot.slack.calls_to("chat.postMessage")
    assert [p.params["thread_ts"] for p in posts] == [ts]
    assert "Lone message: release is frozen until Friday." in content(bot.relay.requests[0])


async def test_shortcut_in_a_channel_the_bot_is_not_in_summarizes_nothing(bot: BotUnderTest) -> None:
    bot.slack.add_channel("C7", name="random", bot_member=False)
    ts = bot.slack.seed_message("C7", "Not for the bot's eyes", "U2")
    response = await bot.send_interaction(shortcut(bot.slack, "C7", ts))
    assert response.status_code == 200
    await bot.idle()
    assert bot.slack.calls_to("chat.postMessage") == []
    assert bot.slack.calls_to("conversations.replies") == []
    assert bot.relay.requests == []
    assert bot.running.parts.tasks.started == 0
    # The user is told why, privately, through the payload's response_url.
    await bot.slack.wait_for(lambda c: bool(bot.slack.responses))
    assert bot.slack.responses[0]["response_type"] == "ephemeral"
    assert "Invite me" in bot.slack.responses[0]["text"]


@pytest.fixture
async def small_budget_bot(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[BotUnderTest]:
    # Summaries use max(budget, 1500): 1500 leaves room for about 4,500 characters of messages.
    settings = make_settings(
        slack, relay, redis_url=redis_url, prefix=redis_prefix, history_budget_tokens=500
    )
    async with bot_under_test(slack, relay, settings) as running_bot:
        yield running_bot


PART = re.compile(r"^Part (\d+) of (\d+)\. Messages:", re.MULTILINE)


async def test_a_thread_too_long_for_one_request_is_summarized_in_parts_then_merged(
    small_budget_bot: BotUnderTest,
) -> None:
    bot = small_budget_bot
    filler = "We compared the options at length and wrote down the trade-offs for later. " * 2
    texts = [f"Entry {i:02d} marker kq{i:02d}z. {filler}".strip() for i in range(60)]
    stamps = seed_thread(bot.slack, texts)
    links = await permalinks(bot, "C1", stamps)
    # Each request takes the next script: the map steps get distinct notes, and whichever request
    # comes last (the final merge) gets its script streamed into the thread.
    # Each step takes a moment, as a model does (see the test below for why).
    bot.relay.push(*(Script.stream([f"NOTES-{n} decided thing {n}."], first_delay=0.3) for n in range(1, 30)))

    await bot.send_interaction(shortcut(bot.slack, "C1", stamps[-1]))
    await bot.answered(1)

    *maps, final = bot.relay.requests
    assert len(maps) >= 3
    order: dict[int, Request] = {}
    for request in maps:
        found = PART.search(request.json["messages"][-1]["content"])
        assert found is not None, request.json["messages"][-1]["content"][:200]
        assert int(found.group(2)) == len(maps)
        order[int(found.group(1))] = request
    assert sorted(order) == list(range(1, len(maps) + 1))
    # Every message (and its permalink) is read by exactly one map step, parts in thread order.
    for text, link in zip(texts, links, strict=True):
        holders = [n for n, r in order.items() if text in content(r)]
        assert len(holders) == 1, (text[:20], holders)
        assert link in content(order[holders[0]])
    firsts = [next(i for i, t in enumerate(texts) if t in content(order[n])) for n in sorted(order)]
    assert firsts == sorted(firsts)
    assert all(t not in content(final) for t in texts)

    # The final request merges the parts' notes, oldest part first, and asks for the summary's shape.
    notes = ["".join(order[n].script.pieces) for n in sorted(order)]  # type: ignore[union-attr]
    assert final.json["messages"] == reduce_messages(notes, kind="thread", title="Thread summary")
    posts = bot.slack.calls_to("chat.postMessage")
    assert len(posts) == 1 and posts[0].params["thread_ts"] == stamps[0]
    statuses = [c.params["text"] for c in bot.slack.calls_to("chat.update")]
    assert any(f"in {len(maps)} parts" in s for s in statuses)
    answer = "".join(final.script.pieces)  # type: ignore[union-attr]
    assert bot.slack.message("C1", posts[0].response["ts"])["text"] == answer


@pytest.mark.parametrize("ask", ["summarize", "tl;dr", "TL;DR please", "summary?"])
async def test_a_mention_asking_for_a_summary_in_a_thread_summarizes_it(bot: BotUnderTest, ask: str) -> None:
    root = message_event(text="Should we move the deploy to Thursday?", user="U2")
    reply = message_event(text="Thursday works, marker vx77.", user="U1", thread_ts=root["ts"])
    for event in (root, reply):
        await bot.send(event)
    bot.relay.push(Script.stream(["Gist: ", "deploy on Thursday."], pace=0.01))
    mention = app_mention(text=f"<@UBOT> {ask}", user="U1", thread_ts=root["ts"])
    await bot.send(mention)
    await bot.answered(1)

    request = bot.relay.requests[0].json
    assert request["messages"][0] == {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    user_text = request["messages"][-1]["content"]
    assert "Should we move the deploy to Thursday?" in user_text and "marker vx77" in user_text
    posts = bot.slack.calls_to("chat.postMessage")
    assert len(posts) == 1 and posts[0].params["thread_ts"] == root["ts"]
    assert bot.slack.message("C1", posts[0].response["ts"])["text"] == "Gist: deploy on Thursday."
    assert bot.slack.calls_to("conversations.replies") == []  # Redis had the thread


async def test_a_summary_word_in_a_question_or_outside_a_thread_gets_a_chat_answer(
    bot: BotUnderTest,
) -> None:
    await bot.send(app_mention(text="<@UBOT> summarize", user="U1"))  # top level: no thread to summarize
    root = message_event(text="Release notes are due.", user="U2")
    await bot.send(root)
    await bot.send(app_mention(text="<@UBOT> can you explain what a summary is?", thread_ts=root["ts"]))
    await bot.answered(2)
    systems = [r.json["messages"][0]["content"] for r in bot.relay.requests]
    assert len(systems) == 2 and SUMMARY_INSTRUCTIONS not in systems


async def test_a_thread_over_max_summary_parts_is_summarized_from_its_newest_parts_and_says_so(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(
        slack, relay, redis_url=redis_url, prefix=redis_prefix, history_budget_tokens=500, max_summary_parts=2
    )
    filler = "We compared the options at length and wrote down the trade-offs for later. " * 2
    texts = [f"Entry {i:02d} marker kq{i:02d}z. {filler}".strip() for i in range(60)]
    stamps = seed_thread(slack, texts)
    # Each step takes a moment, as a model does: a status the scheduler could skip when the
    # next state came at once stays up long enough to be shown.
    relay.push(*(Script.stream([f"NOTES-{n} decided thing {n}."], first_delay=0.3) for n in range(1, 30)))
    async with bot_under_test(slack, relay, settings) as bot:
        await bot.send_interaction(shortcut(slack, "C1", stamps[-1]))
        await bot.answered(1)

    *maps, final = relay.requests
    assert len(maps) == 2  # never more map steps than MAX_SUMMARY_PARTS
    read = [t for t in texts if any(t in content(r) for r in maps)]
    left_out = len(texts) - len(read)
    assert left_out > 0 and read == texts[left_out:]  # the newest messages, all of them
    assert f"the oldest {left_out} messages of the thread were left out" in content(final)
    statuses = [c.params["text"] for c in slack.calls_to("chat.update")]
    assert any(f"oldest {left_out} messages are left out" in s for s in statuses)
    post = slack.calls_to("chat.postMessage")[0]
    shown = slack.message("C1", post.response["ts"])["text"]
    assert shown.endswith(
        f"_The oldest {left_out} messages were left out: the thread is too long to summarize whole._"
    )
