"""A reasoning model answering a mention, end to end (signed event → bot → fake RelayDance → fake
Slack): while it reasons the placeholder says so, the answer holds only the answer, a model that
thinks too long is stopped in plain words, and the usage a stream reports (in its finish chunk
or a usage-only last chunk) is what the bot records."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from bot.core.lifecycle import REASONING
from bot.llm.client import REFUSAL_PREFIX
from bot.stores.guard import RedisGuard
from bot.stores.usage import UsageLedger
from tests.bot.llm.provider_shapes import deepseek_stream, vllm_chunk, vllm_error
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention
from tests.fakes.slack import FakeSlack

THOUGHTS = ["The user asks ", "for 2+2. ", "Adding: ", "two and two ", "make four. ", "Say so."]
ANSWER = ["The answer ", "is 4."]


async def ask(bot: BotUnderTest, n: int, *, thread_ts: str | None = None) -> tuple[str, str, str]:
    """Mention the bot (in a thread, if given); return the thread's ts, the reply's ts and text."""
    mention = app_mention(text="<@UBOT> what is 2+2?", user="U1", thread_ts=thread_ts)
    await bot.send(mention)
    await bot.answered(n)
    root = thread_ts or str(mention["ts"])
    reply = [m for m in bot.slack.thread_messages("C1", root) if m.get("user") == "UBOT"][-1]
    return root, str(reply["ts"]), str(reply["text"])


async def test_the_placeholder_says_the_model_reasons_and_only_the_answer_is_shown_and_kept(
    bot: BotUnderTest, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    bot.relay.push(
        Script.stream(deepseek_stream(THOUGHTS, ANSWER, (20, 60, 80)), pace=0.1, finish_reason=None)
    )
    root, ts, text = await ask(bot, 1)
    assert text == "The answer is 4."
    edits = [str(c.params.get("text")) for c in bot.slack.calls_to("chat.update") if c.params.get("ts") == ts]
    assert REASONING in edits  # the placeholder was edited to say the model is reasoning
    assert edits.index(REASONING) < next(i for i, e in enumerate(edits) if e.startswith("The answer"))
    shown = str([c.params for c in bot.slack.calls if c.method.startswith("chat.")])
    assert "two and two" not in shown  # the reasoning never reached Slack
    # The usage RelayDance reported in its finish chunk is what the usage store holds.
    usage = UsageLedger(redis_client, RedisGuard(timeout=1.0), prefix=redis_prefix)
    assert await usage.get("T1", "U1") == {"answers": 1, "tokens": 80}
    # A follow-up in the thread sends the answer back as the answer, without the reasoning.
    bot.relay.push(Script.stream(["Still 4."]))
    _, _, again = await ask(bot, 2, thread_ts=root)
    assert again == "Still 4."
    sent = bot.relay.requests[1].json["messages"]
    assert {"role": "assistant", "content": "The answer is 4."} in sent
    assert "two and two" not in str(sent)


async def test_a_model_that_thinks_past_the_cap_is_stopped_in_plain_words(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: object
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, thinking_timeout=0.3)
    async with bot_under_test(slack, relay, settings) as bot:
        relay.push(Script.stream([{"reasoning_content": "hmm "}] * 200, pace=0.02))
        _, _, text = await ask(bot, 1)
        assert text == "⚠️ The model was still thinking after 0.3 s without starting its answer; " + (
            "try a narrower question, or ask again."
        )
        assert "hmm" not in text


async def test_a_refusal_is_the_answer(bot: BotUnderTest) -> None:
    bot.relay.push(
        Script.stream([{"role": "assistant", "content": None, "refusal": "I can't help with that."}])
    )
    _, _, text = await ask(bot, 1)
    assert text == REFUSAL_PREFIX + "I can't help with that."


async def test_a_vllm_error_object_mid_stream_keeps_the_text_and_says_it_was_cut_off(
    bot: BotUnderTest,
) -> None:
    bot.relay.push(Script.stream([vllm_chunk({"content": "Half an answer"}), vllm_error()]))
    _, _, text = await ask(bot, 1)
    assert text.startswith("Half an answer") and "*Answer cut off:*" in text and "broke mid-answer" in text


@pytest.mark.parametrize("in_finish", [False, True], ids=["usage-only-last-chunk", "usage-with-finish"])
async def test_the_reported_usage_is_recorded_wherever_the_stream_puts_it(
    bot: BotUnderTest, redis_client: aioredis.Redis, redis_prefix: str, in_finish: bool
) -> None:
    # 4,000 characters would be estimated at ~1,000 tokens: the recorded 37 is the reported figure.
    bot.relay.push(Script.stream(["x" * 4000], usage=(30, 7, 37), usage_in_finish=in_finish))
    await ask(bot, 1)
    assert bot.relay.requests[0].json["stream_options"] == {"include_usage": True}
    usage = UsageLedger(redis_client, RedisGuard(timeout=1.0), prefix=redis_prefix)
    assert await usage.get("T1", "U1") == {"answers": 1, "tokens": 37}
