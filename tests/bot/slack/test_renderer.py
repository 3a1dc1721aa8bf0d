"""StreamingReply against the fake Slack: coalescing, rate limits, limits on length, lost messages."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.renderer import EditGate, StreamingReply
from bot.text.splitting import join_chunks
from tests.fakes.slack import FakeSlack


def reply(client: AsyncWebClient, gate: EditGate | None = None, **kw: object) -> StreamingReply:
    options: dict[str, object] = {"interval": 0.2, **kw}
    return StreamingReply(
        slack=client,
        team="T1",
        channel="C1",
        thread_ts="1.000001",
        gate=gate or EditGate(),
        **options,  # type: ignore[arg-type]
    )


async def test_fast_stream_is_coalesced_to_one_edit_per_interval(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    r = reply(client, interval=0.2)
    await r.start()
    for i in range(100):  # 100 chunks over ~1 s
        r.append(f"t{i} ")
        await asyncio.sleep(0.01)
    await r.finish()
    updates = slack.calls_to("chat.update")
    assert 3 <= len(updates) <= 1.0 / 0.2 + 3
    gaps = [b.received_at - a.received_at for a, b in zip(updates, updates[1:], strict=False)]
    assert min(gaps[:-1]) >= 0.19  # the final edit does not wait out the interval
    assert slack.message("C1", r.message_ts[0])["text"] == "".join(f"t{i} " for i in range(100))


async def test_first_content_is_shown_at_once(client: AsyncWebClient, slack: FakeSlack) -> None:
    r = reply(client, interval=1.0)
    await r.start()
    r.append("hello")
    await slack.wait_for("chat.update", timeout=0.5)  # not held back by the 1 s interval
    r.append(" world")
    await r.finish()
    assert slack.message("C1", r.message_ts[0])["text"] == "hello world"


async def test_a_429_holds_every_answer_in_the_workspace_then_the_final_text_lands(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    gate = EditGate()
    first, second = reply(client, gate, interval=0.05), reply(client, gate, interval=0.05)
    await first.start()
    await second.start()
    slack.fail_next("chat.update", retry_after=1)
    first.append("one")
    await slack.wait_for(lambda c: c.method == "chat.update" and c.status == 429)
    async with asyncio.timeout(2):
        while gate.rate_limited == 0:  # noqa: ASYNC110 - the gate is plain state; poll until the 429 is read
            await asyncio.sleep(0.005)
    refused_at = slack.calls_to("chat.update")[-1].received_at
    second.append("two")
    await asyncio.gather(first.finish(), second.finish())
    after = [c for c in slack.calls_to("chat.update") if c.status == 200]
    assert all(c.received_at - refused_at >= 0.95 for c in after)  # both waited out Retry-After
    assert gate.rate_limited == 1
    assert slack.message("C1", first.message_ts[0])["text"] == "one"
    assert slack.message("C1", second.message_ts[0])["text"] == "two"


async def test_when_slack_counts_longer_the_reply_splits_smaller(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    text = "\n\n".join(f"paragraph {i} " + "x" * 300 for i in range(20))
    r = reply(client, interval=0.01, limit=4500)  # too generous: Slack refuses over 4,000
    await r.start()
    r.append(text)
    await r.finish()
    parts = [slack.message("C1", ts)["text"] for ts in r.message_ts]
    assert all(len(p) <= 4000 for p in parts)
    assert join_chunks(parts) == text


async def test_a_deleted_placeholder_is_replaced_not_lost(client: AsyncWebClient, slack: FakeSlack) -> None:
    r = reply(client, interval=0.01)
    ts = await r.start()
    await client.chat_delete(channel="C1", ts=ts)
    r.append("the answer")
    await r.finish()
    assert r.message_ts[0] != ts
    assert slack.message("C1", r.message_ts[0])["text"] == "the answer"


async def test_footnotes_go_under_the_final_answer_after_the_note(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    r = reply(client, interval=0.05)
    await r.start()
    r.footnote("_Some text was redacted._")
    r.footnote("_Some text was redacted._")  # once, however often it is asked for
    r.append("The answer.")
    await asyncio.sleep(0.1)
    assert "redacted" not in slack.message("C1", r.message_ts[0])["text"]  # not while streaming
    r.footnote("_The oldest 3 messages were left out._")
    await r.finish(note="⚠️ cut off")
    assert slack.message("C1", r.message_ts[0])["text"] == (
        "The answer.\n\n⚠️ cut off\n\n_Some text was redacted._\n_The oldest 3 messages were left out._"
    )
    assert r.text == "The answer."  # what the conversation keeps: the answer alone


async def test_text_arriving_during_a_call_reaches_the_parts_already_passed(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    # The first part's edit is in flight when the rest of a long answer arrives and the answer
    # finishes: the second part is posted, and the first must still get its final text (it kept
    # the early text, and that part of the answer was lost).
    r = reply(client, interval=0.01, limit=1000)
    await r.start()
    slack.latency = 0.3
    r.append("Early words. ")
    await slack.wait_for("chat.update", timeout=1)  # received: the answer is on its way back
    rest = "\n\n".join(f"paragraph {i} " + "y" * 200 for i in range(8))
    r.append(rest)
    await r.finish()
    texts = [slack.message("C1", ts)["text"] for ts in r.message_ts]
    assert len(texts) >= 2
    assert join_chunks(texts) == "Early words. " + rest


async def test_each_text_is_converted_once_however_often_a_flush_looks_at_it(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    converted: list[str] = []

    def render(text: str) -> str:
        converted.append(text)
        return text

    r = reply(client, interval=0.05, render=render)
    await r.start()
    for i in range(10):
        r.append(f"t{i} ")
        await asyncio.sleep(0.02)
    await r.finish(note="_done_")
    assert slack.message("C1", r.message_ts[0])["text"] == "".join(f"t{i} " for i in range(10)) + "\n\n_done_"
    assert len(converted) == len(set(converted))  # no text converted twice
