"""Where history comes from: Redis first, Slack once for a thread Redis never saw, Slack alone while
Redis is down — and Redis again once it is back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis.asyncio as aioredis

from bot.wiring.embedded_redis import EmbeddedRedis
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, message_event
from tests.fakes.slack import FakeSlack


def seed_thread(slack: FakeSlack, replies: int) -> str:
    root = slack.seed_message("C1", "We should move the standup to 10am", "U2")
    for i in range(replies):
        slack.seed_message("C1", f"reply {i}", "U1" if i % 2 else "U2", thread_ts=root)
    return root


async def test_a_thread_redis_never_saw_is_backfilled_once(bot: BotUnderTest) -> None:
    root = seed_thread(bot.slack, 250)  # more than one page of conversations.replies
    await bot.send(app_mention(text="<@UBOT> what was decided?", user="U1", thread_ts=root))
    await bot.answered(1)
    first_calls = len(bot.slack.calls_to("conversations.replies"))
    assert first_calls >= 2  # followed the cursor
    contents = [m["content"] for m in bot.relay.requests[0].json["messages"][1:]]
    assert (
        contents[0] == "grace: We should move the standup to 10am"
        or "left out" in (bot.relay.requests[0].json["messages"][0]["content"])
    )
    assert contents[-2:] == ["ada: reply 249", "ada: what was decided?"]

    await bot.send(app_mention(text="<@UBOT> and who agreed?", user="U2", thread_ts=root))
    await bot.answered(2)
    assert len(bot.slack.calls_to("conversations.replies")) == first_calls  # never again
    last = bot.relay.requests[1].json["messages"]
    assert last[-2]["role"] == "assistant" and last[-1]["content"] == "grace: and who agreed?"


async def test_a_backfill_cut_short_by_a_rate_limit_is_used_now_and_done_again_next_time(
    bot: BotUnderTest,
) -> None:
    root = seed_thread(bot.slack, 250)  # two pages of conversations.replies
    bot.slack.rate_limit("conversations.replies", calls=1, per_seconds=60)  # the second page: 429
    await bot.send(app_mention(text="<@UBOT> what was decided?", user="U1", thread_ts=root))
    await bot.answered(1)
    assert [c.status for c in bot.slack.calls_to("conversations.replies")] == [200, 429]
    contents = [m["content"] for m in bot.relay.requests[0].json["messages"][1:]]
    assert "grace: reply 0" in contents and "ada: reply 197" in contents  # the first page was used
    assert "ada: reply 249" not in contents
    assert contents[-1] == "ada: what was decided?"

    bot.slack.rate_limit("conversations.replies", calls=100, per_seconds=1)  # the limit has passed
    await bot.send(app_mention(text="<@UBOT> and who agreed?", user="U2", thread_ts=root))
    await bot.answered(2)
    assert [c.status for c in bot.slack.calls_to("conversations.replies")] == [200, 429, 200, 200]
    contents = [m["content"] for m in bot.relay.requests[1].json["messages"][1:]]
    assert "ada: reply 249" in contents and contents[-1] == "grace: and who agreed?"

    await bot.send(app_mention(text="<@UBOT> thanks", user="U2", thread_ts=root))
    await bot.answered(3)
    assert len(bot.slack.calls_to("conversations.replies")) == 4  # complete now: never again


async def test_two_mentions_at_once_in_an_unseen_thread_read_it_from_slack_once(bot: BotUnderTest) -> None:
    root = seed_thread(bot.slack, 250)
    bot.slack.latency = 0.05  # both answers are under way before either has read the thread
    await asyncio.gather(
        bot.send(app_mention(text="<@UBOT> what was decided?", user="U1", thread_ts=root)),
        bot.send(app_mention(text="<@UBOT> who decided it?", user="U2", thread_ts=root)),
    )
    await bot.answered(2)
    assert len(bot.slack.calls_to("conversations.replies")) == 2  # one read of two pages
    for request in bot.relay.requests:
        contents = [m["content"] for m in request.json["messages"][1:]]
        assert "ada: reply 249" in contents


async def test_budget_keeps_newest_and_says_older_were_left_out(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(
        slack, relay, redis_url=redis_url, prefix=redis_prefix, history_budget_tokens=300
    )
    async with bot_under_test(slack, relay, settings) as bot:
        root = seed_thread(slack, 100)
        await bot.send(app_mention(text="<@UBOT> status?", user="U1", thread_ts=root))
        await bot.answered(1)
        messages = relay.requests[0].json["messages"]
        assert "left out" in messages[0]["content"]
        assert messages[-1]["content"] == "ada: status?"
        assert 2 < len(messages) < 60
        assert sum(len(m["content"]) for m in messages) < 300 * 4 + 800


async def test_mentions_are_answered_while_redis_is_down_and_redis_is_used_again_after(
    slack: FakeSlack, relay: FakeRelayDance, tmp_path: Path
) -> None:
    server = EmbeddedRedis(tmp_path / "redis", persistent=False)
    url = await server.start()
    settings = make_settings(slack, relay, redis_url=url, prefix="outage", redis_timeout=0.2)
    try:
        async with bot_under_test(slack, relay, settings) as bot:
            root = seed_thread(slack, 3)
            await server.stop()
            health = await bot.http.get(f"{bot.url}/healthz")
            assert health.status_code == 503

            relay.push(Script.stream(["still ", "here"]))
            mention = app_mention(text="<@UBOT> are you there?", user="U1", thread_ts=root)
            await bot.send(mention)
            await bot.answered(1)
            contents = [m["content"] for m in relay.requests[0].json["messages"][1:]]
            assert contents[0] == "grace: We should move the standup to 10am"  # history from Slack
            assert contents[-1] == "ada: are you there?"
            replies = [m["text"] for m in slack.thread_messages("C1", root) if m.get("user") == "UBOT"]
            assert replies == ["still here"]

            await server.start()
            await asyncio.sleep(1.1)  # the guard's cool-down
            assert (await bot.http.get(f"{bot.url}/healthz")).status_code == 200
            await bot.send(message_event(text="fresh message", user="U2", thread_ts=root))
            await bot.send(app_mention(text="<@UBOT> again", user="U1", thread_ts=root))
            await bot.answered(2)
            check = aioredis.Redis.from_url(url, decode_responses=True)
            try:
                keys = [k async for k in check.scan_iter(match="outage:msgs:*")]
            finally:
                await check.aclose()
            assert keys  # recording into Redis resumed without a restart
    finally:
        await server.stop()


async def test_a_huge_message_is_kept_in_redis_trimmed_to_the_configured_size(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(
        slack, relay, redis_url=redis_url, prefix=redis_prefix, max_stored_message_chars=5000
    )
    pasted = "BEGIN LOG\n" + "line of a very long log\n" * 3500 + "END LOG"  # 84,000 characters
    async with bot_under_test(slack, relay, settings) as bot:
        root = message_event(text=pasted, user="U2")
        await bot.send(root)
        await bot.send(app_mention(text="<@UBOT> what does the log say?", user="U1", thread_ts=root["ts"]))
        await bot.answered(1)
    stored = await redis_client.hgetall(f"{redis_prefix}:msgs:T1:C1:main")
    [raw] = stored.values()
    text = json.loads(raw)["text"]
    assert len(text) == 5000
    assert text.startswith("BEGIN LOG") and text.endswith("END LOG") and "characters left out" in text
    root_turn = relay.requests[0].json["messages"][1]["content"]
    assert root_turn.startswith("grace: BEGIN LOG") and len(root_turn) < 5100
