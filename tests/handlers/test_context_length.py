"""A prompt the model refuses as too long is built again, smaller, before anything is shown;
when even the smallest does not fit, the thread says so in plain words. The fake RelayDance
refuses like a model with a small window (`context_limit_chars`), in OpenAI's, xAI's or
llama.cpp's words."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from bot.core.summaries import MAP_CONCURRENCY
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Request, Script
from tests.fakes.relaydance.script import ContextWording
from tests.fakes.signing import app_mention
from tests.fakes.slack import FakeSlack
from tests.handlers.test_knowledge import final_text, ops_thread
from tests.handlers.test_knowledge_tools import VAGUE, play, search, tool_results

TOO_LONG = "too long for the model's context window"
LEFT_OUT = "earlier messages of this conversation were left out to fit the context"


def seed_thread(slack: FakeSlack, replies: int, text: str) -> str:
    root = slack.seed_message("C1", "Where do we stand on the migration plan?", "U2")
    for i in range(replies):
        slack.seed_message("C1", f"{i}: {text}", "U1" if i % 2 else "U2", thread_ts=root)
    return root


def chars(request: Request) -> int:
    return sum(len(m["content"]) for m in request.json["messages"])


def bot_replies(bot: BotUnderTest, root: str) -> list[str]:
    return [str(m["text"]) for m in bot.slack.thread_messages("C1", root) if m.get("user") == "UBOT"]


@pytest.mark.parametrize(
    ("wording", "most_requests"),
    [
        ("openai", 2),  # the window and the count say how much smaller: one retry
        ("xai", 2),
        ("llamacpp", 3),  # no numbers: the budget is halved, then halved again
    ],
)
async def test_a_thread_too_long_for_the_model_is_answered_with_fewer_messages(
    bot: BotUnderTest, wording: ContextWording, most_requests: int
) -> None:
    root = seed_thread(bot.slack, 150, "we looked at the rollout plan again and noted the open points")
    bot.relay.context_limit_chars = 3000
    bot.relay.context_wording = wording
    await bot.send(app_mention(text="<@UBOT> what now?", user="U1", thread_ts=root))
    await bot.answered(1)

    first, *retries = bot.relay.requests
    assert chars(first) > 3000 and 1 <= len(retries) <= most_requests - 1
    last = retries[-1]
    assert chars(last) <= 3000
    assert len(last.json["messages"]) < len(first.json["messages"])
    assert LEFT_OUT in last.json["messages"][0]["content"]
    assert last.json["messages"][-1]["content"] == "ada: what now?"
    assert "149: we looked" in last.json["messages"][-2]["content"]  # the newest kept
    assert bot_replies(bot, root) == ["Echo: ada: what now?"]  # no trace of the refusals


async def test_when_even_the_question_does_not_fit_the_thread_says_so(bot: BotUnderTest) -> None:
    root = seed_thread(bot.slack, 20, "short reply")
    bot.relay.context_limit_chars = 40  # less than the system prompt alone
    await bot.send(app_mention(text="<@UBOT> what now?", user="U1", thread_ts=root))
    await bot.answered(1)
    assert len(bot.relay.requests) == 1  # a window under the smallest prompt: no retry would fit
    [said] = bot_replies(bot, root)
    assert TOO_LONG in said and said.startswith("⚠️")
    assert "context_length_exceeded" not in said and "400" not in said


async def test_a_summary_refused_as_too_long_is_read_in_smaller_parts(bot: BotUnderTest) -> None:
    filler = "We compared the two vendors on price, support hours and the migration effort for us. "
    root = seed_thread(bot.slack, 40, filler * 3)  # about 10,000 characters: one request at first
    bot.relay.context_limit_chars = 9000
    await bot.send(app_mention(text="<@UBOT> summarize", user="U1", thread_ts=root))
    await bot.answered(1)

    refused, *rest = bot.relay.requests
    assert chars(refused) > 9000
    assert len(rest) >= 3  # map steps over smaller parts, then the merge
    assert all(chars(r) <= 9000 for r in rest)
    summarized = "\n".join(m["content"] for r in rest[:-1] for m in r.json["messages"])
    assert all(f"{i}: We compared" in summarized for i in range(40))  # nothing dropped
    said = "\n".join(bot_replies(bot, root))  # the fake echoes the merge request: a long answer
    assert said.startswith("Echo: Title: Thread summary") and "⚠️" not in said


async def test_a_summary_that_cannot_fit_at_all_says_so(bot: BotUnderTest) -> None:
    root = seed_thread(bot.slack, 40, "We compared the two vendors on price and support hours. " * 3)
    bot.relay.context_limit_chars = 1200  # less than the summary's instructions
    await bot.send(app_mention(text="<@UBOT> summarize", user="U1", thread_ts=root))
    await bot.answered(1)
    [said] = bot_replies(bot, root)
    assert TOO_LONG in said
    # One request at first, then the map steps under way when the first was refused; then no
    # third try, which would plan the same smallest parts again.
    assert len(bot.relay.requests) <= 1 + MAP_CONCURRENCY


async def test_after_two_smaller_prompts_are_refused_too_the_thread_says_so(bot: BotUnderTest) -> None:
    root = seed_thread(bot.slack, 150, "we looked at the rollout plan again and noted the open points")
    bot.relay.context_limit_chars = 900
    bot.relay.context_wording = "llamacpp"  # no numbers: each retry halves the budget
    await bot.send(app_mention(text="<@UBOT> what now?", user="U1", thread_ts=root))
    await bot.answered(1)
    sizes = [chars(r) for r in bot.relay.requests]
    assert len(sizes) == 3 and sizes[0] > sizes[1] > sizes[2] > 900
    [said] = bot_replies(bot, root)
    assert TOO_LONG in said


async def test_the_answer_s_share_of_the_window_is_kept_free_on_a_retry(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    # OpenAI counts MAX_TOKENS into the window: the retry leaves that much of it for the answer.
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, max_tokens=250)
    relay.context_limit_chars = 3000
    async with bot_under_test(slack, relay, settings) as bot:
        root = seed_thread(slack, 150, "we looked at the rollout plan again and noted the open points")
        await bot.send(app_mention(text="<@UBOT> what now?", user="U1", thread_ts=root))
        await bot.answered(1)
    first, second = relay.requests
    assert second.json["max_tokens"] == 250
    assert chars(second) + 250 * 4 <= 3000 < chars(first) + 250 * 4
    assert bot_replies(bot, root) == ["Echo: ada: what now?"]


async def test_a_refusal_after_text_was_shown_keeps_the_text_and_is_not_retried(bot: BotUnderTest) -> None:
    # The model writes a sentence, asks for a tool, and the request carrying the tool's result
    # is refused as too long: a smaller prompt now would answer again under text already shown.
    await ops_thread(bot)
    refused = Script.context_length(limit=2000, used=2050)  # a retry would fit
    call = Script.tool_calls(search("staging database password"), text=["Let me look that up."])
    play(bot.relay, call, refused)
    long_question = VAGUE + " We went over it at length last week, with all the details." * 20
    await bot.send(app_mention(text=long_question, user="U1"))  # long enough for a smaller retry
    await bot.answered()

    first, second = bot.relay.requests  # no third request with a smaller prompt
    assert tool_results(second.json) and not tool_results(first.json)
    text = await final_text(bot)
    assert text.startswith("Let me look that up.")
    assert TOO_LONG in text and "context_length_exceeded" not in text
