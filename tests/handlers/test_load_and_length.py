"""Long answers across messages, and many mentions at once."""

from __future__ import annotations

import asyncio
import random

from bot.slack.blocks import ACTION_REGENERATE
from bot.text.splitting import join_chunks
from tests.e2e_harness import BotUnderTest
from tests.fakes.relaydance import Script
from tests.fakes.signing import app_mention


def long_answer(chars: int) -> str:
    rng = random.Random(7)
    parts: list[str] = []
    size = 0
    n = 0
    while size < chars:
        n += 1
        if n % 7 == 0:
            block = "```\n" + "\n".join(f"line_{n}_{i} = {i} * 2" for i in range(40)) + "\n```"
        else:
            words = " ".join(
                rng.choice(["alpha", "beta", "gamma", "delta", "keys", "rotate"]) for _ in range(60)
            )
            block = f"Paragraph {n}: {words}."
        parts.append(block)
        size += len(block) + 2
    return "\n\n".join(parts)


async def test_a_15000_character_answer_arrives_whole_across_messages(bot: BotUnderTest) -> None:
    answer = long_answer(15_000)
    pieces = [answer[i : i + 97] for i in range(0, len(answer), 97)]
    bot.relay.push(Script.stream(pieces, pace=0.001))
    mention = app_mention(text="<@UBOT> write a lot", user="U1")
    await bot.send(mention)
    await bot.answered(1, timeout=30)

    replies = [m for m in bot.slack.thread_messages("C1", mention["ts"]) if m.get("user") == "UBOT"]
    texts = [str(m["text"]) for m in replies]
    assert len(texts) >= 4
    assert all(len(t) <= 4000 for t in texts)
    assert join_chunks(texts) == answer  # nothing lost, nothing repeated, fences rejoined
    assert not any(c.error == "msg_too_long" for c in bot.slack.calls_to("chat.update"))
    assert all(t.count("```") % 2 == 0 for t in texts)  # every part's code blocks are closed


async def test_fifty_simultaneous_mentions_are_all_answered(bot: BotUnderTest) -> None:
    # Each answer waits 1.5 s for its first token: all fifty must be in flight by then.
    bot.relay.default = Script.echo(pace=0.02, first_delay=1.5)
    mentions = [app_mention(text=f"<@UBOT> question number {i}", user="U1") for i in range(50)]
    responses = await asyncio.gather(*(bot.send(m) for m in mentions))
    assert all(r.status_code == 200 for r in responses)
    await bot.answered(50, timeout=30)
    for i, mention in enumerate(mentions):
        replies = [m for m in bot.slack.thread_messages("C1", mention["ts"]) if m.get("user") == "UBOT"]
        assert [r["text"] for r in replies] == [f"Echo: ada: question number {i}"]
    # All fifty were streaming at the same time: every request reached RelayDance before the
    # first answer was complete (a worker pool, or a lock around answers, would have queued them).
    firsts = sorted(r.received_at for r in bot.relay.requests)
    complete = [
        c.received_at
        for c in bot.slack.calls_to("chat.update")
        if str(c.params["text"]).startswith("Echo: ada: question number")
        and str(c.params["text"]).split()[-1].isdigit()
        and ACTION_REGENERATE in str(c.params.get("blocks"))
    ]
    assert len(firsts) == 50 and len(complete) == 50
    assert firsts[-1] < min(complete)
