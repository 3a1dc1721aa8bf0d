"""NativeReply against the fake Slack: refusals, rate limits, closing streams and the hand-over to editing."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.native import NativeReply, StreamBook
from bot.slack.renderer import EditGate, StreamingReply
from bot.slack.schedule import EditScheduler, MemoryBudget
from bot.text.from_mrkdwn import mrkdwn_to_markdown
from bot.text.rates import APPEND, DEFAULT_TIERS, STOP, STREAM, UPDATE, LocalBuckets, Tier
from tests.fakes.slack import FakeSlack

THREAD = "1.000001"
STOP_BLOCKS = [
    {"type": "actions", "elements": [{"type": "button", "action_id": "stop", "text": {}, "value": "a"}]}
]
FINAL = [
    {"type": "actions", "elements": [{"type": "button", "action_id": "again", "text": {}, "value": "a"}]}
]


def native(client: AsyncWebClient, gate: EditGate | None = None, **kw: Any) -> NativeReply:
    gate = gate or EditGate()
    thread_ts = kw.pop("thread_ts", THREAD)

    def post_and_edit() -> StreamingReply:
        return StreamingReply(
            slack=client, team="T1", channel="C1", thread_ts=thread_ts, gate=gate, interval=0.02
        )

    options: dict[str, Any] = {
        "recipient": "U1",
        "interval": 0.02,
        "start_blocks": STOP_BLOCKS,
        "final_blocks": FINAL,
    }
    options.update(kw)
    return NativeReply(
        slack=client,
        team="T1",
        channel="C1",
        thread_ts=thread_ts,
        gate=gate,
        post_and_edit=post_and_edit,
        **options,
    )


def bot_texts(slack: FakeSlack) -> list[str]:
    return [str(m["text"]) for m in slack.thread_messages("C1", THREAD) if m.get("user") == "UBOT"]


async def test_rate_limited_appends_and_stop_wait_and_lose_nothing(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    gate = EditGate()
    r = native(client, gate)
    await r.start()
    slack.fail_next("chat.appendStream", retry_after=0)
    r.append("one ")
    await slack.wait_for("chat.appendStream", count=2)
    r.append("two")
    slack.fail_next("chat.stopStream", retry_after=0)
    assert await r.finish() == r.message_ts
    assert bot_texts(slack) == ["one two"]
    assert gate.rate_limited == 2
    assert slack.message("C1", r.message_ts[0])["blocks"][-1] == FINAL[0]


async def test_the_note_and_footnotes_end_the_stream_in_markdown(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    r = native(client)
    await r.start()
    r.footnote("_Some text was redacted._")
    r.footnote("_Some text was redacted._")
    r.append("Answer.")
    await r.finish(note="⚠️ *Answer cut off:* the limit.")
    note = mrkdwn_to_markdown("⚠️ *Answer cut off:* the limit.\n\n_Some text was redacted._")
    expected = "Answer.\n\n" + note
    assert bot_texts(slack) == [expected]


async def test_an_empty_answer_ends_with_its_note_alone(client: AsyncWebClient, slack: FakeSlack) -> None:
    r = native(client, final_blocks=None)
    await r.start()
    r.append("")
    await r.finish(note="Nothing came back.")
    assert bot_texts(slack) == ["Nothing came back."]


async def test_a_stopped_stream_without_a_note_needs_no_text(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    r = native(client, start_blocks=None, final_blocks=None)
    await r.start()
    r.append("Done.")
    await slack.wait_for("chat.appendStream")
    await r.finish()
    (stop,) = slack.calls_to("chat.stopStream")
    assert "markdown_text" not in stop.params
    assert bot_texts(slack) == ["Done."]


async def test_without_a_thread_or_an_asker_the_answer_is_posted_and_edited(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    for r in (native(client, recipient=None), native(client, thread_ts=None)):
        r.status("_Looking…_")
        await r.start()
        r.footnote("_note_")
        r.append("Edited.")
        await r.finish()
    assert slack.calls_to("chat.startStream") == []
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_slack_failing_the_stream_hands_it_to_editing_after_closing_it(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    r = native(client)
    await r.start()
    slack.fail_next("chat.appendStream", error="internal_error", times=3)
    r.append("Kept **whole**.")
    await slack.wait_for("chat.update")
    r.status("_ignored: text is shown_")
    r.footnote("_a footnote_")
    r.append(" And more.")
    await r.finish()
    assert len(slack.calls_to("chat.stopStream")) == 1  # closed, so chat.update may edit it
    assert bot_texts(slack) == ["Kept *whole*. And more.\n\n_a footnote_"]
    assert r.failure is None


async def test_an_update_of_a_stream_still_open_waits_until_slack_closes_it(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    slack.streams.max_age = 0.5
    r = native(client)
    await r.start()
    slack.fail_next("chat.appendStream", error="invalid_chunks")  # not worth a retry: edit instead
    slack.fail_next("chat.stopStream", error="internal_error")  # and the stream stays open a while
    r.append("Still here.")
    await slack.wait_for(lambda c: c.method == "chat.update" and c.error == "streaming_state_conflict")
    await r.finish()
    assert bot_texts(slack) == ["Still here."]


async def test_a_stop_slack_keeps_refusing_hands_over_to_editing(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    r = native(client)
    await r.start()
    r.append("Text.")
    await slack.wait_for("chat.appendStream")
    slack.fail_next("chat.stopStream", error="internal_error", times=3)
    await r.finish(note="_note_")
    assert bot_texts(slack) == ["Text.\n\n_note_"]


async def test_native_on_waits_for_a_stream_token(client: AsyncWebClient, slack: FakeSlack) -> None:
    r = native(client, wait=True)
    await r.start()
    r.append("x")
    await r.finish()
    assert len(slack.calls_to("chat.startStream")) == 1


async def test_cancel_ends_the_streams_task(client: AsyncWebClient, slack: FakeSlack) -> None:
    r = native(client)
    await r.cancel()  # nothing started: nothing to do
    assert await r.finish() == []
    await r.start()
    r.append("a")
    await r.cancel()
    slack.fail_next("chat.startStream", error="channel_type_not_supported")
    edited = native(client)
    await edited.start()
    edited.append("b")
    await edited.cancel()
    await asyncio.sleep(0)
    assert edited.text == "b"


async def test_append_after_a_refusal_for_good_raises(client: AsyncWebClient, slack: FakeSlack) -> None:
    slack.fail_next("chat.startStream", error="channel_type_not_supported")
    r = native(client)
    await r.start()
    slack.fail_next("chat.update", error="channel_not_found", times=5)
    r.append("a")
    await slack.wait_for("chat.update")
    for _ in range(100):
        if r.failure is not None:
            break
        await asyncio.sleep(0.01)
    assert r.failure is not None
    try:
        r.append("b")
    except Exception as exc:
        assert exc is r.failure
    else:
        raise AssertionError("append went on after Slack refused the answer")
    await r.finish()


async def test_an_answer_outgrowing_its_stream_goes_on_by_editing(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    r = native(client, limit=40)
    await r.start()
    r.append("a" * 30 + " ")
    await slack.wait_for("chat.appendStream")
    r.append("b" * 30)
    await slack.wait_for("chat.update")
    await r.finish()
    assert bot_texts(slack) == ["a" * 30 + " " + "b" * 30]
    assert [c.ok for c in slack.calls_to("chat.stopStream")] == [True]  # closed before the edits


async def test_status_words_show_as_a_task_card_until_the_text_starts(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    r = native(client)
    await r.start()
    r.status("_Waiting for the previous answer…_")
    await slack.wait_for("chat.appendStream")
    r.status("_Thinking…_")
    await slack.wait_for("chat.appendStream", count=2)
    r.append("The answer.")
    await r.finish()
    (message,) = [m for m in slack.thread_messages("C1", THREAD) if m.get("user") == "UBOT"]
    assert message["text"] == "The answer."
    assert [(c["title"], c["status"]) for c in message["chunks"] if c["type"] == "task_update"] == [
        ("Waiting for the previous answer…", "in_progress"),
        ("Thinking…", "in_progress"),
        ("Thinking…", "complete"),  # with the first text, in the same call
    ]
    r.status("_ignored once the answer has ended_")
    assert len(slack.calls_to("chat.appendStream")) == 2  # the stop carried the text and the card


async def test_an_answer_ending_before_any_text_completes_its_task_card(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    r = native(client)
    await r.start()
    r.status("_Summarizing part 1 of 2…_")
    await slack.wait_for("chat.appendStream")
    await r.finish(note="Nothing to say.")
    (stop,) = slack.calls_to("chat.stopStream")
    assert stop.params["chunks"] == [
        {"type": "task_update", "id": "status", "title": "Summarizing part 1 of 2…", "status": "complete"},
        {"type": "markdown_text", "text": "Nothing to say."},
    ]


async def test_starts_and_stops_spend_buckets_of_their_own(client: AsyncWebClient, slack: FakeSlack) -> None:
    tiers = {**DEFAULT_TIERS, STREAM: Tier(20, 60, 3), STOP: Tier(20, 60, 3)}
    gate = EditGate(MemoryBudget(LocalBuckets(tiers=tiers)))
    replies = [native(client, gate) for _ in range(4)]
    for r in replies:
        await r.start()
    assert len(slack.calls_to("chat.startStream")) == 3  # the fourth found the start bucket empty
    for r in replies:
        r.append("done")
    started = asyncio.get_running_loop().time()
    for r in replies:
        await r.finish()
    assert [c.ok for c in slack.calls_to("chat.stopStream")] == [True] * 3
    assert asyncio.get_running_loop().time() - started < 1.0  # no stop waited for a refill
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_a_workspace_refusing_streams_is_not_asked_again_for_a_while(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    now = [0.0]
    book = StreamBook(clock=lambda: now[0], refusal_seconds=60)
    slack.fail_next("chat.startStream", error="missing_scope")
    for _ in range(2):
        r = native(client, book=book)
        await r.start()
        await r.finish()
    assert len(slack.calls_to("chat.startStream")) == 1
    now[0] = 61.0
    r = native(client, book=book)
    await r.start()
    await r.finish()
    assert len(slack.calls_to("chat.startStream")) == 2
    assert book.refused("T1") is False


async def test_finishing_while_an_append_waits_stops_at_once_with_the_rest(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    tiers = {**DEFAULT_TIERS, APPEND: Tier(1, 60, 1)}  # the first content, then nothing for a minute
    r = native(client, EditGate(MemoryBudget(LocalBuckets(tiers=tiers))))
    await r.start()
    r.append("one ")
    await slack.wait_for("chat.appendStream")
    r.append("two")
    await asyncio.sleep(0.1)  # the second append now waits for the appends' budget
    async with asyncio.timeout(5):  # the stop does not wait for it: its bucket is another
        await r.finish()
    assert len(slack.calls_to("chat.appendStream")) == 1
    assert bot_texts(slack) == ["one two"]


async def test_a_native_stream_keeps_no_edit_for_its_end(client: AsyncWebClient, slack: FakeSlack) -> None:
    """An edited answer's catch-up edits keep one token per edited answer, not per stream."""
    tiers = {**DEFAULT_TIERS, UPDATE: Tier(3, 180, 3)}  # three edits, then one every few seconds
    gate = EditGate(MemoryBudget(LocalBuckets(tiers=tiers)))
    streamed = native(client, gate)
    await streamed.start()
    edited = native(client, gate, thread_ts=None)
    await edited.start()
    edited.append("first")
    await slack.wait_for("chat.update")
    edited.append(" second")
    async with asyncio.timeout(2):  # keeping a token for the stream too would wait seconds here
        await slack.wait_for("chat.update", count=2)
    await edited.finish()
    await streamed.finish()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_streaming_answers_next_text_goes_before_another_streams_task_card(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    clock = Clock()
    ample = Tier(100, 1, 100)
    tiers = {APPEND: Tier(60, 60, 1), STREAM: ample, STOP: ample, UPDATE: ample}
    sched = EditScheduler(MemoryBudget(LocalBuckets(tiers=tiers, clock=clock)), clock=clock)
    answering, queued = native(client, sched), native(client, sched, thread_ts="2.000001")
    await answering.start()
    await queued.start()
    answering.append("hello")
    await slack.wait_for("chat.appendStream")  # the only token: the answer's first text
    queued.status("_Queued — next in line…_")  # waits first, for the next token
    await asyncio.sleep(0.05)
    answering.append(" world")
    await asyncio.sleep(0.05)
    clock.now += 1.0
    sched.nudge("T1")
    await slack.wait_for("chat.appendStream", count=2)
    second = slack.calls_to("chat.appendStream")[1]
    assert second.params["ts"] == answering.message_ts[0]  # the answer's text, not the card
    clock.now += 1.0
    sched.nudge("T1")
    await slack.wait_for("chat.appendStream", count=3)
    assert slack.calls_to("chat.appendStream")[2].params["ts"] == queued.message_ts[0]
    clock.now += 5.0
    await queued.finish()
    await answering.finish()
