"""Answers in one thread come in the order of their questions, and each sees the ones before it,
on one replica or two: a question asked while the previous answer streams waits for it."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from bot.slack.blocks import ACTION_STOP
from tests.e2e_harness import BotUnderTest, make_settings, replicas
from tests.fakes.interactions import block_actions
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention
from tests.fakes.slack import Call, FakeSlack

FIRST_ANSWER = ["Blue-green, ", "with a canary ", "first."]


def contents(request: Any) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request.json["messages"][1:]]


def shows(text: str) -> Any:
    def match(call: Call) -> bool:
        return call.method == "chat.update" and text in str(call.params.get("text"))

    return match


async def two_quick_questions(first: BotUnderTest, second: BotUnderTest) -> str:
    """Q1 to `first`; once its answer is streaming, Q2 in the same thread to `second`."""
    q1 = app_mention(text="<@UBOT> how should we deploy?", user="U1")
    await first.send(q1)
    await first.slack.wait_for(shows("Blue-green"))
    await second.send(app_mention(text="<@UBOT> and how do we roll back?", user="U2", thread_ts=q1["ts"]))
    return str(q1["ts"])


async def test_a_question_asked_while_the_previous_answer_streams_sees_that_answer(bot: BotUnderTest) -> None:
    bot.relay.push(Script.stream(FIRST_ANSWER, pace=0.3), Script.stream(["Redeploy the old tag."]))
    await two_quick_questions(bot, bot)
    await bot.answered(2)
    assert contents(bot.relay.requests[1]) == [
        ("user", "ada: how should we deploy?"),
        ("assistant", "Blue-green, with a canary first."),  # final, not "Thinking…" or half of it
        ("user", "grace: and how do we roll back?"),
    ]
    # The second answer's placeholder said why it waited, then went on as usual.
    second_ts = bot.slack.calls_to("chat.postMessage")[1].response["ts"]
    updates = [
        str(c.params.get("text")) for c in bot.slack.calls_to("chat.update") if c.params["ts"] == second_ts
    ]
    assert "_Waiting for the previous answer…_" in updates
    assert bot.slack.message("C1", second_ts)["text"] == "Redeploy the old tag."


async def test_answers_are_read_back_after_their_questions_not_at_their_placeholders(
    bot: BotUnderTest,
) -> None:
    """Both questions come before the first placeholder: by ts alone a third question would read
    Q1, Q2, A1, A2."""
    bot.relay.push(Script.stream(["A1."], pace=0.2), Script.stream(["A2."]), Script.stream(["A3."]))
    bot.slack.latency = 0.1  # the first placeholder is posted after the second question was asked
    q1 = app_mention(text="<@UBOT> one", user="U1")
    q2 = app_mention(text="<@UBOT> two", user="U2", thread_ts=q1["ts"])
    await bot.send(q1)
    await bot.send(q2)
    await bot.answered(2)
    placeholder = bot.slack.calls_to("chat.postMessage")[0].response["ts"]
    assert float(placeholder) > float(q2["ts"])
    bot.slack.latency = 0
    await bot.send(app_mention(text="<@UBOT> three", user="U1", thread_ts=q1["ts"]))
    await bot.answered(3)
    assert contents(bot.relay.requests[2]) == [
        ("user", "ada: one"),
        ("assistant", "A1."),
        ("user", "grace: two"),
        ("assistant", "A2."),
        ("user", "ada: three"),
    ]


async def test_on_two_replicas_the_second_question_sees_the_first_answer(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    relay.push(Script.stream(FIRST_ANSWER, pace=0.3), Script.stream(["Redeploy the old tag."]))
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
    async with replicas(slack, relay, settings) as (one, other):
        await two_quick_questions(one, other)
        await one.answered(1)
        await other.answered(1)
    assert contents(relay.requests[1]) == [
        ("user", "ada: how should we deploy?"),
        ("assistant", "Blue-green, with a canary first."),
        ("user", "grace: and how do we roll back?"),
    ]


async def test_an_answer_stopped_while_it_waits_for_its_turn_never_asks_and_leaves_the_line(
    bot: BotUnderTest,
) -> None:
    bot.relay.push(Script.stream(FIRST_ANSWER, pace=0.3), Script.stream(["The third answer."]))
    root = await two_quick_questions(bot, bot)
    await bot.slack.wait_for(shows("_Waiting for the previous answer…_"))
    waiting_ts = bot.slack.calls_to("chat.postMessage")[1].response["ts"]
    press = block_actions(ACTION_STOP, user="U2", message=bot.slack.message("C1", waiting_ts), channel="C1")
    assert (await bot.send_interaction(press)).status_code == 200
    await bot.answered(2)
    assert bot.slack.message("C1", waiting_ts)["text"] == "⏹️ _Stopped by <@U2>._"
    assert len(bot.relay.requests) == 1  # the stopped one never reached RelayDance

    await bot.send(app_mention(text="<@UBOT> so?", user="U1", thread_ts=root))  # not stuck behind it
    await bot.answered(3)
    assert contents(bot.relay.requests[1])[-1] == ("user", "ada: so?")
