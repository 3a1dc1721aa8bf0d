"""Show a streamed answer with Slack's native streams, or post-and-edit when they are not to be had.

`NativeReply` has `StreamingReply`'s face (`Reply`), so the answer lifecycle and every job use
either. The choice is made per answer, in `start()`:
- native only for a reply in a thread to someone (Slack streams replies to a request, and outside
  a DM needs the recipient: the team and the asker) and when the workspace's budget for
  chat.startStream (tier 2; chat.stopStream has a bucket of its own, so a burst of starts never
  delays the ends) grants a token at once (with `wait=True`: once it does); otherwise, or when
  Slack refuses the stream, the answer is posted and edited (`StreamingReply`) as before;
- appendStream calls ask the `EditScheduler` like edits do (their own tier 4 bucket): at most one
  call in flight, and everything that arrived while it waited goes into that call; they keep no
  tokens for the end, which is a chat.stopStream from its own bucket;
- native streams take standard Markdown, so the model's text goes as it came; the notes and
  footnotes the lifecycle gives in mrkdwn are turned back into Markdown;
- the end is one chat.stopStream with the text not sent yet, the note, and the final controls
  (Regenerate, and Slack's feedback buttons);
- `status()` words (waiting for a turn, reasoning, a summary's parts) cannot replace text in a
  stream, which only grows: they show as one task card (`task_update` chunk, id `status`, its
  title replaced with each status), marked complete in the call that carries the first text.
Slack closes a stream a few minutes after it starts, or when it idles
(`message_not_in_streaming_state`). The answer then goes on in that same message with chat.update:
the post-and-edit renderer resumes it with the whole text so far (rendered as mrkdwn, split into
further messages past 4,000 characters), so nothing is lost or repeated. A stream past `limit`
characters (Slack's markdown blocks stop at 12,000) and any other refusal while streaming do the
same, after closing the stream (chat.update on a streaming message answers
`streaming_state_conflict`).

Stop: the stream opens with the Stop button (a `blocks` chunk), which presses like the one on an
edited answer. Chunks are never taken back, so the button stays after the end, where pressing it
says the answer has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import RenderError
from bot.slack.refusals import describe, is_rate_limited, is_transient, retry_after_of
from bot.slack.renderer import Blocks, StreamingReply
from bot.slack.schedule import CATCH_UP, FINAL, FIRST, STATUS, EditScheduler
from bot.text.from_mrkdwn import mrkdwn_to_markdown
from bot.text.rates import APPEND, STOP, STREAM, Key

log = logging.getLogger(__name__)

CALL_LIMIT = 12_000  # markdown_text per call
STREAM_LIMIT = 11_000  # a streamed message's text; past it the answer goes on by editing
NOT_STREAMING = "message_not_in_streaming_state"
TRANSIENT_FAILURES = 3
FINAL_ATTEMPTS = 20


TASK_TITLE_LIMIT = 256


def task_title(words: str) -> str:
    """A placeholder's mrkdwn words (e.g. `_Thinking…_`) as a task card's plain title."""
    return words.strip().strip("_*").strip()[:TASK_TITLE_LIMIT] or "Working…"


# Refusals that will not change for a while: this workspace gets post-and-edit until then.
REFUSED_FOR_A_WHILE = frozenset(
    {
        "unknown_method",
        "missing_scope",
        "not_allowed_token_type",
        "feature_not_enabled",
        "invalid_chunks",
        "invalid_blocks",
    }
)
REFUSAL_SECONDS = 600.0


class StreamBook:
    """What this process has learnt about native streams, shared by its answers: a workspace whose
    Slack refuses streams outright is not asked again for `refusal_seconds` (post-and-edit)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, refusal_seconds: float = REFUSAL_SECONDS
    ):
        self._clock = clock
        self._refusal_seconds = refusal_seconds
        self._refused_until: dict[str, float] = {}

    def refuse(self, team: str) -> None:
        self._refused_until[team] = self._clock() + self._refusal_seconds

    def refused(self, team: str) -> bool:
        until = self._refused_until.get(team)
        if until is None:
            return False
        if self._clock() >= until:
            del self._refused_until[team]
            return False
        return True


class _GoOnEditing(Exception):
    """The stream cannot carry the answer further: go on with chat.update in its message."""

    def __init__(self, why: str, *, still_open: bool) -> None:
        super().__init__(why)
        self.why = why
        self.still_open = still_open


class NativeReply:
    """One streamed answer in a native Slack stream: `start()`, `append()`, `finish()`.

    `post_and_edit` builds the `StreamingReply` used instead (from the start, or resuming the
    stream's message); `start_blocks` open the stream (the Stop button) and `final_blocks` end it.
    """

    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        team: str,
        channel: str,
        thread_ts: str | None,
        recipient: str | None,
        gate: EditScheduler,
        interval: float,
        post_and_edit: Callable[[], StreamingReply],
        start_blocks: Blocks | None = None,
        final_blocks: Blocks | None = None,
        book: StreamBook | None = None,
        wait: bool = False,
        limit: int = STREAM_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self.team = team
        self.channel = channel
        self.thread_ts = thread_ts
        self._recipient = recipient
        self._gate = gate
        self._interval = interval
        self._post_and_edit = post_and_edit
        self._start_blocks = start_blocks
        self._final_blocks = final_blocks
        self._wait = wait
        self._book = book or StreamBook()
        self._limit = limit
        self._clock = clock
        self._text: list[str] = []
        self._streamed = 0  # characters of the text the stream shows
        self._status: str | None = None
        self._task: tuple[str, str] | None = None  # the status as a task card: (title, status) wanted
        self._task_shown: tuple[str, str] | None = None
        self._note = ""
        self._footnotes: list[str] = []
        self._ts = ""  # the stream's message, once started
        self._editing: StreamingReply | None = None  # once post-and-edit has taken over
        self._dirty = asyncio.Event()
        self._finishing = asyncio.Event()
        self._closing = False
        self._closed_at = 0.0
        self._behind_since: float | None = None
        self._streamer: asyncio.Task[None] | None = None
        self._failure: RenderError | None = None

    # -- the face every answer uses ----------------------------------------------------------------

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def message_ts(self) -> list[str]:
        if self._editing is not None:
            return self._editing.message_ts
        return [self._ts] if self._ts else []

    @property
    def failure(self) -> RenderError | None:
        return self._editing.failure if self._editing is not None else self._failure

    async def start(self) -> str:
        """Open a native stream if the budget allows now, else post the usual placeholder."""
        if (
            self.thread_ts is None
            or self._recipient is None
            or self._book.refused(self.team)
            or not await self._stream_granted()
        ):
            return await self._edit_instead()
        chunks = [{"type": "blocks", "blocks": self._start_blocks}] if self._start_blocks else None
        try:
            response = await self._slack.chat_startStream(
                channel=self.channel,
                thread_ts=self.thread_ts,
                recipient_team_id=self.team,
                recipient_user_id=self._recipient,
                chunks=chunks,
            )
        except SlackApiError as exc:
            if is_rate_limited(exc):
                await self._gate.penalize(self._key(STREAM), retry_after_of(exc))
            elif exc.response.get("error") in REFUSED_FOR_A_WHILE:
                self._book.refuse(self.team)
            log.info("no native stream in %s (%s); posting and editing instead", self.channel, describe(exc))
            return await self._edit_instead()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("no native stream in %s (%s); posting and editing instead", self.channel, describe(exc))
            return await self._edit_instead()
        self._ts = str(response["ts"])
        # Not `gate.opened()`: a stream ends with chat.stopStream, so no chat.update (nor append)
        # is kept for it; if it hands over to editing, the editor's `resume()` counts it then.
        self._streamer = asyncio.create_task(self._stream_loop(), name=f"stream:{self.channel}:{self._ts}")
        return self._ts

    def append(self, text: str) -> None:
        """Add streamed text; raises `RenderError` once Slack has refused the answer for good."""
        if self.failure is not None:
            raise self.failure
        if not text:
            return
        self._text.append(text)
        if self._editing is not None:
            self._editing.append(text)
            return
        if self._behind_since is None:
            self._behind_since = self._clock()
        self._dirty.set()

    def status(self, text: str) -> None:
        """The placeholder's words (e.g. "Summarizing part 2 of 5…"): a native stream shows them as
        a task card (`task_update` chunk) until its text starts, then marks it complete."""
        self._status = text
        if self._editing is not None:
            self._editing.status(text)
        elif self._ts and not self._streamed:
            self._task = (task_title(text), "in_progress")
            self._dirty.set()

    def footnote(self, text: str) -> None:
        if text not in self._footnotes:
            self._footnotes.append(text)
            if self._editing is not None:
                self._editing.footnote(text)

    async def finish(self, *, note: str = "") -> list[str]:
        """Deliver the whole answer and its note (mrkdwn, as the lifecycle gives it), and stop."""
        if self._streamer is None:
            return await self._editing.finish(note=note) if self._editing is not None else []
        self._note = note
        self._closing = True
        self._closed_at = self._clock()
        self._finishing.set()
        self._dirty.set()
        self._gate.nudge(self.team)
        await self._streamer
        if self._editing is not None:
            return await self._editing.finish(note=note)
        return self.message_ts

    async def cancel(self) -> None:
        """Stop now, and wait until every task of this answer has ended."""
        if self._streamer is not None and not self._streamer.done():
            self._streamer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._streamer
        if self._editing is not None:
            await self._editing.cancel()

    # -- choosing ------------------------------------------------------------------------------------

    async def _stream_granted(self) -> bool:
        key = self._key(STREAM)
        if self._wait:
            await self._gate.slot(key, lambda: (FIRST, self._clock()))
            return True
        return await self._gate.try_slot(key)  # chat.stopStream has a bucket of its own

    def _editor(self) -> StreamingReply:
        reply = self._post_and_edit()
        for line in self._footnotes:
            reply.footnote(line)
        if self._status is not None:
            reply.status(self._status)
        return reply

    async def _edit_instead(self) -> str:
        reply = self._editor()
        ts = await reply.start()
        self._editing = reply  # start() comes before any text: there is none to hand over
        return ts

    def _resume_editing(self) -> None:
        """Post-and-edit takes the stream's message over, with the whole text so far (no await
        between reading the text and handing it over: nothing appended meanwhile is lost)."""
        reply = self._editor()
        reply.resume(self._ts)
        if self._text:
            reply.append(self.text)
        self._editing = reply

    # -- streaming -----------------------------------------------------------------------------------

    def _key(self, family: str) -> Key:
        return (self.team, family, "")

    def _rank(self) -> tuple[int, float]:
        if self._closing:
            return (FINAL, self._closed_at)
        since = self._clock() if self._behind_since is None else self._behind_since
        if self._streamed:
            return (CATCH_UP, since)
        if self._behind_since is None and self._ts:
            return (STATUS, since)  # no text yet: only the task card changed
        return (FIRST, since)

    async def _stream_loop(self) -> None:
        """The stream's task; whatever stops the stream early hands the answer to post-and-edit."""
        try:
            await self._stream_until_done()
        except asyncio.CancelledError:
            raise
        except _GoOnEditing as exc:
            log.info("the stream in %s ended early (%s); editing its message instead", self.channel, exc.why)
            if exc.still_open:
                await self._close_quietly()
            self._resume_editing()
        except Exception as exc:  # a refusal, the network, or a bug of ours: the answer still ends in words
            if not isinstance(exc, (SlackApiError, aiohttp.ClientError, TimeoutError)):
                log.exception("streaming an answer in %s failed", self.channel)
            await self._close_quietly()
            self._resume_editing()

    async def _stream_until_done(self) -> None:
        last_call: float | None = None
        transient = 0
        while True:
            await self._dirty.wait()
            if last_call is not None and not self._closing:
                await self._pause_until(last_call + self._interval)  # cut short by finish()
            self._dirty.clear()
            if self._closing:
                await self._stop()
                return
            if len(self.text) == self._streamed and self._task == self._task_shown:
                continue
            if not await self._append_slot() or self._closing:
                self._dirty.set()  # the stop carries what is left
                continue
            try:
                await self._append_pending()
                transient = 0
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                if isinstance(exc, SlackApiError) and is_rate_limited(exc):
                    await self._gate.penalize(self._key(APPEND), retry_after_of(exc))
                else:
                    transient += 1
                    if not is_transient(exc) or transient >= TRANSIENT_FAILURES:
                        raise _GoOnEditing(describe(exc), still_open=True) from exc
            last_call = self._clock()
            if len(self.text) > self._streamed:
                self._dirty.set()

    async def _append_slot(self) -> bool:
        """Wait for an append's turn, but give it up when the answer finishes meanwhile: the
        stop (its own bucket) carries the text then, and must not wait for the appends' budget."""
        if self._finishing.is_set():
            return False
        slot = asyncio.create_task(self._gate.slot(self._key(APPEND), self._rank))
        finishing = asyncio.create_task(self._finishing.wait())
        try:
            await asyncio.wait((slot, finishing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            finishing.cancel()
            if not slot.done():
                slot.cancel()  # delivered even inside a Redis call (bot.stores.guard)
                await asyncio.wait([slot])
        if slot.cancelled():
            return False
        slot.result()  # a failure of the scheduler's is raised here
        return True

    async def _append_pending(self) -> None:
        text = self.text
        pending = text[self._streamed :][:CALL_LIMIT]
        if self._streamed + len(pending) > self._limit:
            raise _GoOnEditing("the answer outgrew one streamed message", still_open=True)
        task = self._settled_task(bool(pending))
        since, self._behind_since = self._behind_since, None
        try:
            await self._slack.chat_appendStream(
                channel=self.channel, ts=self._ts, **self._content(pending, task)
            )
        except SlackApiError as exc:
            self._behind_since = since
            if exc.response.get("error") == NOT_STREAMING:
                raise _GoOnEditing(NOT_STREAMING, still_open=False) from exc
            raise
        except BaseException:
            self._behind_since = since
            raise
        self._streamed += len(pending)
        self._task_shown = task
        if len(self.text) > self._streamed and self._behind_since is None:
            self._behind_since = self._clock()

    def _settled_task(self, text_follows: bool) -> tuple[str, str] | None:
        """The task card as this call leaves it: complete once the answer's text starts."""
        if self._task is not None and text_follows and self._task[1] == "in_progress":
            self._task = (self._task[0], "complete")
        return self._task

    def _content(self, text: str, task: tuple[str, str] | None) -> dict[str, Any]:
        """A call's content: plain `markdown_text`, or chunks when the task card changes too."""
        if task is None or task == self._task_shown:
            return {"markdown_text": text} if text else {}
        chunks: list[dict[str, str]] = [
            {"type": "task_update", "id": "status", "title": task[0], "status": task[1]}
        ]
        if text:
            chunks.append({"type": "markdown_text", "text": text})
        return {"chunks": chunks}

    async def _stop(self) -> None:
        """The final call: the text not streamed yet, the note, and the final controls."""
        suffix = "\n\n".join(part for part in (self._note, "\n".join(self._footnotes)) if part)
        transient = 0
        for _ in range(FINAL_ATTEMPTS):
            await self._gate.slot(self._key(STOP), self._rank)
            text = self.text
            tail = text[self._streamed :]
            if suffix:
                tail = f"{tail}\n\n{mrkdwn_to_markdown(suffix)}" if text else mrkdwn_to_markdown(suffix)
            if len(tail) > CALL_LIMIT or self._streamed + len(tail) > self._limit:
                raise _GoOnEditing("the answer outgrew one streamed message", still_open=True)
            kwargs = self._content(tail, self._settled_task(True))
            if self._final_blocks:
                kwargs["blocks"] = self._final_blocks
            try:
                await self._slack.chat_stopStream(channel=self.channel, ts=self._ts, **kwargs)
            except SlackApiError as exc:
                if is_rate_limited(exc):
                    await self._gate.penalize(self._key(STOP), retry_after_of(exc))
                    continue
                if exc.response.get("error") == NOT_STREAMING:
                    raise _GoOnEditing(NOT_STREAMING, still_open=False) from exc
                transient += 1
                if not is_transient(exc) or transient >= TRANSIENT_FAILURES:
                    raise _GoOnEditing(describe(exc), still_open=True) from exc
                continue
            except (aiohttp.ClientError, TimeoutError) as exc:
                transient += 1
                if transient >= TRANSIENT_FAILURES:
                    raise _GoOnEditing(describe(exc), still_open=True) from exc
                continue
            self._streamed = len(text)
            self._task_shown = self._task
            return
        raise _GoOnEditing("chat.stopStream kept being refused", still_open=True)

    async def _close_quietly(self) -> None:
        """End a stream we give up on, so that chat.update may edit its message (an open stream
        answers `streaming_state_conflict`). If even this fails, the editor's first edit says so."""
        with contextlib.suppress(SlackApiError, aiohttp.ClientError, TimeoutError):
            await self._gate.slot(self._key(STOP), lambda: (FINAL, self._clock()))
            await self._slack.chat_stopStream(channel=self.channel, ts=self._ts)

    async def _pause_until(self, when: float) -> None:
        delay = when - self._clock()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._finishing.wait()
