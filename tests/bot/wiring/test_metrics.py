"""/metrics after real answers: what an operator graphs (answers, first token, tokens, Slack calls
and 429s, upstream errors, streams in flight), read the way Prometheus reads it."""

from __future__ import annotations

import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention
from tests.fakes.slack import FakeSlack


async def scrape(bot: BotUnderTest) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    page = await bot.http.get(f"{bot.url}/metrics")
    assert page.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(page.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_an_answer_is_counted_with_its_timings_tokens_and_slack_calls(bot: BotUnderTest) -> None:
    bot.slack.fail_next("chat.update")  # one 429 on the way
    bot.relay.push(Script.stream(["Every ", "90 days."], pace=0.05, usage=(120, 7, 127)))
    await bot.send(app_mention(text="<@UBOT> how often?", user="U1"))
    await bot.answered(1)
    await bot.idle()
    samples = await scrape(bot)
    assert value(samples, "relaydance_answers_total", kind="chat", outcome="answered") == 1
    assert value(samples, "relaydance_first_token_seconds_count", kind="chat") == 1
    assert value(samples, "relaydance_answer_duration_seconds_count", kind="chat") == 1
    assert value(samples, "relaydance_tokens_total", model="grok-4.3", direction="in") == 120
    assert value(samples, "relaydance_tokens_total", model="grok-4.3", direction="out") == 7
    assert value(samples, "relaydance_slack_calls_total", method="chat.postMessage", status="200") >= 1
    assert value(samples, "relaydance_slack_calls_total", method="chat.update", status="429") == 1
    assert value(samples, "relaydance_slack_rate_limited_total", method="chat.update") == 1
    assert value(samples, "relaydance_streams_in_flight") == 0
    assert value(samples, "relaydance_queue_depth") == 0


async def test_an_upstream_failure_is_counted_by_kind(bot: BotUnderTest) -> None:
    bot.relay.push(Script.error(401, "bad key"))
    await bot.send(app_mention(text="<@UBOT> hello", user="U1"))
    await bot.answered(1)
    samples = await scrape(bot)
    assert value(samples, "relaydance_answers_total", kind="chat", outcome="failed") == 1
    assert value(samples, "relaydance_upstream_errors_total", kind="UpstreamAuthError") == 1
    assert value(samples, "relaydance_first_token_seconds_count", kind="chat") == 0


async def test_streams_in_flight_while_an_answer_streams(bot: BotUnderTest) -> None:
    bot.relay.push(Script.stream(["Slow ", "answer."], pace=1.0))
    await bot.send(app_mention(text="<@UBOT> go slowly", user="U1"))
    await bot.slack.wait_for(lambda c: c.method == "chat.update" and "Slow" in str(c.params.get("text")))
    assert value(await scrape(bot), "relaydance_streams_in_flight") == 1
    await bot.answered(1)
    assert value(await scrape(bot), "relaydance_streams_in_flight") == 0


async def test_redis_failures_are_counted_while_answers_go_on(
    slack: FakeSlack, relay: FakeRelayDance, redis_prefix: str
) -> None:
    settings = make_settings(slack, relay, redis_url="redis://127.0.0.1:1/0", prefix=redis_prefix)
    async with bot_under_test(slack, relay, settings) as bot:
        relay.push(Script.stream(["Still here."]))
        await bot.send(app_mention(text="<@UBOT> are you there?", user="U1"))
        await bot.answered(1)
        samples = await scrape(bot)
    errors = sum(v for (name, _), v in samples.items() if name == "relaydance_redis_errors_total")
    assert errors >= 1
    assert value(samples, "relaydance_answers_total", kind="chat", outcome="answered") == 1


async def test_the_slack_budget_levels_are_read_from_redis_when_scraped(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(
        slack, relay, redis_url=redis_url, prefix=redis_prefix, slack_rate_post=(60.0, 60.0, 20.0)
    )
    async with bot_under_test(slack, relay, settings) as bot:
        before = await scrape(bot)
        assert value(before, "relaydance_slack_budget_tokens", family="chat.postMessage") == 20
        assert value(before, "relaydance_slack_budget_buckets", family="chat.postMessage") == 0
        relay.push(Script.stream(["Counted."]))
        await bot.send(app_mention(text="<@UBOT> spend one", user="U1"))
        await bot.answered(1)
        after = await scrape(bot)
    assert value(after, "relaydance_slack_budget_buckets", family="chat.postMessage") == 1
    assert 18 < value(after, "relaydance_slack_budget_tokens", family="chat.postMessage") < 20
    assert value(after, "relaydance_slack_budget_rate", family="chat.postMessage") == 1.0
    # A family nothing used is full: its tier's burst (the harness's unlimited one).
    assert value(after, "relaydance_slack_budget_tokens", family="chat.appendStream") == 100_000
