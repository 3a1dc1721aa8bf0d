"""StreamingReply against the fake Slack when a continuation message cannot be posted, and when a
re-split leaves more messages posted than the answer now needs (the surplus is emptied).

A long answer goes on in further messages of the thread: `chat.postMessage` of such a continuation
may fail with an error other than a rate limit (`not_in_channel` once the bot was removed,
`fatal_error` / `internal_error` when Slack has trouble). The caller must not be left waiting in
`finish()`, and what Slack already shows must stay.
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import ACTION_REGENERATE, ACTION_STOP, final_controls, streaming_controls
from bot.slack.renderer import PLACEHOLDER, Blocks, EditGate, StreamingReply
from bot.text.splitting import join_chunks
from tests.fakes.interactions import buttons
from tests.fakes.slack import Call, FakeSlack

LIMIT = 400  # small parts, so a few paragraphs make a multi-message answer (and a note still fits)
FIRST = "alpha " * 40 + "first paragraph."  # 256 characters: one part on its own
SECOND = "beta " * 40 + "second paragraph."  # with FIRST, too long for one part
EMPTY = "\u200b"  # what an emptied surplus message shows


def reply(client: AsyncWebClient, **kw: object) -> StreamingReply:
    options: dict[str, object] = {"interval": 0.01, "limit": LIMIT, **kw}
    return StreamingReply(
        slack=client,
        team="T1",
        channel="C1",
        thread_ts="1.000001",
        gate=EditGate(),
        **options,  # type: ignore[arg-type]
    )


def controls(final: bool) -> Blocks:
    return final_controls("a1") if final else streaming_controls("a1")


async def finish_promptly(r: StreamingReply) -> list[str] | SlackApiError:
    """finish(), which must return or raise within 2 s; the SlackApiError it raised, if any."""
    async with asyncio.timeout(2):
        try:
            return await r.finish()
        except SlackApiError as exc:
            return exc


def refused_post(call: Call) -> bool:
    return call.method == "chat.postMessage" and call.status is not None and not call.ok


# -- a continuation that cannot be posted ----------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"), [("not_in_channel", 200), ("fatal_error", 200), ("internal_error", 500)]
)
async def test_a_continuation_refused_in_the_final_edit_ends_finish_promptly_and_keeps_the_first_part(
    client: AsyncWebClient, slack: FakeSlack, error: str, status: int
) -> None:
    r = reply(client)
    ts = await r.start()
    slack.fail_next("chat.postMessage", error=error, status=status)
    r.append(f"{FIRST}\n\n{SECOND}")  # finish() right away: the first flush is the final one

    outcome = await finish_promptly(r)

    # Today finish() raises the Slack error; returning would do as well. It must not hang.
    if isinstance(outcome, SlackApiError):
        assert outcome.response.get("error") == error
    [refused] = [c for c in slack.calls if refused_post(c)]
    assert refused.params["text"] == SECOND
    assert slack.message("C1", ts)["text"].startswith(FIRST)  # the part Slack took stays


async def test_a_continuation_refused_for_good_mid_stream_leaves_finish_prompt_and_the_text_shown(
    client: AsyncWebClient, slack: FakeSlack
) -> None:
    """The bot was removed from the channel mid-answer: every post from then on is refused."""
    r = reply(client, controls=controls)
    ts = await r.start()
    r.append(FIRST)
    await slack.wait_for(lambda c: c.method == "chat.update" and FIRST in str(c.params.get("text")))
    slack.fail_next("chat.postMessage", error="not_in_channel", times=50)
    r.append(f"\n\n{SECOND}")
    await slack.wait_for(refused_post)
    r.append(" And more text after the refusal.")

    outcome = await finish_promptly(r)

    if isinstance(outcome, SlackApiError):
        assert outcome.response.get("error") == "not_in_channel"
    shown = slack.message("C1", ts)
    assert shown["text"].startswith(FIRST)
    assert PLACEHOLDER not in shown["text"]


@pytest.mark.parametrize(("error", "status"), [("fatal_error", 200), ("internal_error", 500)])
async def test_a_continuation_refused_once_mid_stream_is_posted_later_and_the_answer_completes(
    client: AsyncWebClient, slack: FakeSlack, error: str, status: int
) -> None:
    """A passing Slack error on one post mid-stream is retried like a failed edit is (with the next
    flush). Today the renderer's flush task dies on it: nothing more is shown, the rest of the
    answer is lost and finish() raises."""
    r = reply(client, controls=controls)
    ts = await r.start()
    r.append(FIRST)
    await slack.wait_for(lambda c: c.method == "chat.update" and FIRST in str(c.params.get("text")))
    slack.fail_next("chat.postMessage", error=error, status=status)  # only this one post
    r.append(f"\n\n{SECOND}")
    await slack.wait_for(refused_post)
    r.append(" The end.")

    outcome = await finish_promptly(r)

    assert not isinstance(outcome, SlackApiError), outcome
    assert outcome[0] == ts and len(outcome) == 2
    parts = [slack.message("C1", t)["text"] for t in outcome]
    assert join_chunks(parts) == f"{FIRST}\n\n{SECOND} The end."
    last = slack.message("C1", outcome[-1])
    assert ACTION_REGENERATE in buttons(last["blocks"]) and ACTION_STOP not in buttons(last["blocks"])


# -- the surplus of a re-split ---------------------------------------------------------------------


def hide_closed_drafts(text: str) -> str:
    """A rendering that shrinks as text arrives: a `[draft]…[/draft]` section shows while it is
    being written and disappears once it is closed."""
    return re.sub(r"\[draft\].*?\[/draft\]\s*", "", text, flags=re.DOTALL)


DRAFT = "[draft]\n\n" + "\n\n".join(f"draft line {i} " + "x" * 250 for i in range(3))


async def draft_posted(slack: FakeSlack) -> list[str]:
    """Wait until the whole draft is shown; return the ts of the messages after the first."""
    await slack.wait_for(
        lambda c: c.method == "chat.postMessage" and "draft line 2" in str(c.params.get("text"))
    )
    posted = [str(c.response["ts"]) for c in slack.calls_to("chat.postMessage")[1:]]
    assert len(posted) >= 2, "the draft takes more than one further message"
    return posted


@pytest.mark.parametrize("with_controls", [True, False], ids=["with-buttons", "text-only"])
async def test_a_re_split_into_fewer_parts_empties_the_surplus_messages(
    client: AsyncWebClient, slack: FakeSlack, with_controls: bool
) -> None:
    r = reply(client, render=hide_closed_drafts, controls=controls if with_controls else None)
    first_ts = await r.start()
    r.append(f"Intro.\n\n{DRAFT}")
    surplus = await draft_posted(slack)
    if with_controls:  # while streaming, the Stop button is on the last of them
        assert ACTION_STOP in buttons(slack.message("C1", surplus[-1])["blocks"])
    r.append("[/draft]\n\nDone.")

    delivered = await finish_promptly(r)

    assert delivered == [first_ts, *surplus]  # still the answer's messages: none was deleted
    assert slack.calls_to("chat.delete") == []
    assert len(slack.calls_to("chat.postMessage")) == 1 + len(surplus)  # nothing posted anew
    first = slack.message("C1", first_ts)
    assert first["text"] == "Intro.\n\nDone."
    for ts in surplus:
        message = slack.message("C1", ts)
        assert message["text"] == EMPTY
        assert "draft line" not in str(message.get("blocks"))
        assert buttons(message.get("blocks")) == {}
    if with_controls:  # the final buttons moved to the one message left
        assert ACTION_REGENERATE in buttons(first["blocks"]) and ACTION_STOP not in buttons(first["blocks"])
        assert all(slack.message("C1", ts)["blocks"] == [] for ts in surplus)


async def test_a_surplus_message_that_cannot_be_emptied_does_not_hold_up_the_answer(
    client: AsyncWebClient, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Someone deleted the surplus message already: emptying it fails, which is logged, and the
    answer still ends with its complete text in the first message."""
    r = reply(client, render=hide_closed_drafts)
    first_ts = await r.start()
    r.append(f"Intro.\n\n{DRAFT}")
    surplus = await draft_posted(slack)
    for ts in surplus:
        await client.chat_delete(channel="C1", ts=ts)
    r.append("[/draft]\n\nDone.")

    with caplog.at_level(logging.WARNING, logger="bot.slack.renderer"):
        delivered = await finish_promptly(r)

    assert delivered == [first_ts, *surplus]
    assert slack.message("C1", first_ts)["text"] == "Intro.\n\nDone."
    refused = [c for c in slack.calls_to("chat.update") if c.params.get("ts") in surplus]
    assert refused and all(c.error == "message_not_found" for c in refused)
    assert "could not empty a surplus message: message_not_found" in caplog.text
    assert len(slack.calls_to("chat.postMessage")) == 1 + len(surplus)  # no part is posted again
