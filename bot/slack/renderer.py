"""Show a streamed answer in Slack by posting a placeholder and editing it as text arrives.

One `StreamingReply` per answer, used by every surface. Its rules come from Slack's limits:
- every call first asks the process's `EditScheduler` (bot.slack.schedule) for a slot from the
  workspace's budget, shared by all replicas: first content first, then final edits, then
  whichever answer is furthest behind. There is no fixed interval: `interval` is only the
  shortest gap between two intermediate edits of one answer;
- never more than one Slack call in flight per answer: text arriving while it waits for its slot
  is coalesced into that call instead of queueing edits;
- a 429 holds that budget for the whole workspace for Retry-After (every replica sees it) and
  lowers its rate: other answers skip their intermediate edits instead of piling into the limit;
- `chat.update` refuses text over 4,000 characters, so the rendered answer is split into
  messages of at most `limit` characters; later parts go on as further replies in the thread;
- the final edit always carries the complete answer (it waits out rate limits and retries);
- a refusal that is not a rate limit (or a network failure that persists) ends the rendering:
  `append()` then raises `RenderError` so the answer stops streaming, and `finish()` puts a note
  on the last message Slack accepted instead of waiting on a renderer that is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.errors import RenderError
from bot.slack.blocks import message_blocks
from bot.slack.refusals import describe, is_rate_limited, is_transient, retry_after_of
from bot.slack.schedule import CATCH_UP, FINAL, FIRST, STATUS, EditScheduler
from bot.text.mrkdwn import markdown_to_mrkdwn
from bot.text.rates import POST, UPDATE, Key
from bot.text.splitting import split_mrkdwn

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 3800  # leaves room under 4,000 for Slack counting entities differently
PLACEHOLDER = "_Thinking…_"
TRANSIENT_FAILURES = 3  # network failures in a row before the renderer gives up
CONFLICT_PAUSE = 0.5  # before editing again a message Slack still streams (streaming_state_conflict)


# The scheduler was a per-team hold after a 429 under this name; callers still build it so.
EditGate = EditScheduler


Blocks = list[dict[str, Any]]
Controls = Callable[[bool], Blocks]  # final? -> action blocks for the last message of an answer


@dataclass(frozen=True, slots=True)
class Rendered:
    """What one Slack message of the answer shows: text, plus blocks when the answer has buttons."""

    text: str
    blocks: Blocks | None = None


class Reply(Protocol):
    """What an answer's lifecycle and jobs use of its Slack side: `StreamingReply` (post and edit)
    or `bot.slack.native.NativeReply` (Slack's native streams, falling back to post and edit)."""

    channel: str

    @property
    def text(self) -> str: ...

    @property
    def message_ts(self) -> list[str]: ...

    @property
    def failure(self) -> RenderError | None: ...

    async def start(self) -> str: ...

    def append(self, text: str) -> None: ...

    def status(self, text: str) -> None: ...

    def footnote(self, text: str) -> None: ...

    async def finish(self, *, note: str = "") -> list[str]: ...

    async def cancel(self) -> None: ...


class StreamingReply:
    """The Slack side of one streamed answer: `start()`, `append()` as text arrives, `finish()`.

    With `controls`, every message is sent as section blocks and the last one carries the
    controls (e.g. Stop while streaming; Regenerate and feedback once final).
    """

    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        team: str,
        channel: str,
        thread_ts: str | None,
        gate: EditScheduler,
        interval: float,
        limit: int = DEFAULT_LIMIT,
        placeholder: str = PLACEHOLDER,
        controls: Controls | None = None,
        render: Callable[[str], str] = markdown_to_mrkdwn,
        clock: Callable[[], float] = time.monotonic,
        final_attempts: int = 20,
    ) -> None:
        self._slack = slack
        self.team = team
        self.channel = channel
        self.thread_ts = thread_ts
        self._gate = gate
        self._interval = interval
        self._limit = limit
        self._placeholder = placeholder
        self._controls = controls
        self._render = render
        self._clock = clock
        self._final_attempts = final_attempts
        self._text: list[str] = []
        self._suffix = ""
        self._note = ""
        self._footnotes: list[str] = []
        self.message_ts: list[str] = []
        self._sent: list[Rendered] = []
        self._dirty = asyncio.Event()
        self._finishing = asyncio.Event()
        self._closing = False
        self._closed_at = 0.0
        self._behind_since: float | None = None  # when the oldest text Slack does not show arrived
        self._shown = False  # Slack shows some of the answer's text
        self._flusher: asyncio.Task[None] | None = None
        self._memo: tuple[tuple[int, str, str, int], list[str]] | None = None  # see _chunks
        self.failure: RenderError | None = None

    @property
    def text(self) -> str:
        return "".join(self._text)

    async def start(self) -> str:
        """Post the placeholder (with its Stop button, when the answer has controls)."""
        first = self._rendered([self._placeholder], 0, final=False)
        response = await self._call_with_retry(
            "chat.postMessage",
            lambda: self._slack.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, text=first.text, blocks=first.blocks
            ),
        )
        ts = str(response["ts"])
        self.message_ts.append(ts)
        self._sent.append(first)
        self._gate.opened(self.team)
        self._flusher = asyncio.create_task(self._flush_loop(), name=f"render:{self.channel}:{ts}")
        return ts

    def resume(self, ts: str) -> None:
        """Go on in a message that is already up (a native stream Slack closed, `bot.slack.native`)
        instead of posting a placeholder: the first edit brings it in line with the whole text."""
        self.message_ts.append(ts)
        self._sent.append(Rendered(""))  # matches nothing we render: the first flush edits it
        self._gate.opened(self.team)
        self._flusher = asyncio.create_task(self._flush_loop(), name=f"render:{self.channel}:{ts}")
        self._dirty.set()

    def append(self, text: str) -> None:
        """Add streamed text; raises `RenderError` once Slack has refused the answer for good."""
        if self.failure is not None:
            raise self.failure
        if text:
            self._text.append(text)
            if self._behind_since is None:
                self._behind_since = self._clock()
            self._dirty.set()

    def status(self, text: str) -> None:
        """Replace the placeholder's words (e.g. "Summarizing part 2 of 5…") until text arrives."""
        self._placeholder = text
        self._dirty.set()

    def footnote(self, text: str) -> None:
        """A line (mrkdwn) shown under the final answer, after its note: e.g. that some text was
        redacted before it went to the model. Each distinct line once; not part of `text`."""
        if text not in self._footnotes:
            self._footnotes.append(text)

    async def finish(self, *, note: str = "") -> list[str]:
        """Deliver the complete answer and stop editing.

        `note` (e.g. why the answer was cut off) is mrkdwn, shown as given after the answer.
        """
        if self._flusher is None:
            return []  # the placeholder never went up: nothing to finish
        self._note = note
        self._suffix = self._with_footnotes(note)
        self._closing = True
        self._closed_at = self._clock()
        self._finishing.set()
        self._dirty.set()
        self._gate.nudge(self.team)
        await self._flusher
        if self.failure is not None:
            await self._salvage()
        return list(self.message_ts)

    def _with_footnotes(self, note: str) -> str:
        return "\n\n".join(part for part in (note, "\n".join(self._footnotes)) if part)

    async def cancel(self) -> None:
        """Stop rendering now, and wait until the renderer's task has ended."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher

    # -- internals ---------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        """The renderer's task. It never dies silently: a failure it cannot get past is kept in
        `failure`, where `append()` and `finish()` see it."""
        try:
            await self._flush_until_done()
        except asyncio.CancelledError:
            raise
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            self._fail(RenderError(describe(exc)))
        except Exception as exc:  # a bug of ours must still end the answer in words
            log.exception("rendering an answer in %s failed", self.channel)
            self._fail(RenderError(type(exc).__name__))
        finally:
            self._gate.closed(self.team)

    def _fail(self, failure: RenderError) -> None:
        log.warning("Slack refused an answer in %s (%s); ending it there", self.channel, failure.error)
        self.failure = failure

    async def _flush_until_done(self) -> None:
        last_call: float | None = None
        final_tries = 0
        transient = 0
        while True:
            await self._dirty.wait()
            if last_call is not None and not self._closing:
                await self._pause_until(last_call + self._interval)  # cut short by finish()
            self._dirty.clear()
            try:
                done, final = await self._flush()
                transient = 0
            except (aiohttp.ClientError, TimeoutError, SlackApiError) as exc:
                transient += 1
                if not is_transient(exc) or transient >= TRANSIENT_FAILURES:
                    raise
                log.info("a Slack call failed (%s); trying again with the next edit", describe(exc))
                done, final = False, self._closing
            last_call = self._clock()
            if final and done:
                return
            if final:
                final_tries += 1
                if final_tries >= self._final_attempts:
                    log.error("giving up on the final edit in %s after %d tries", self.channel, final_tries)
                    return
            if not done or self._closing:
                self._dirty.set()

    async def _pause_until(self, when: float) -> None:
        delay = when - self._clock()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._finishing.wait()

    def _key(self, family: str) -> Key:
        return (self.team, family, self.channel if family == POST else "")

    def _rank(self) -> tuple[int, float]:
        if self._closing:
            return (FINAL, self._closed_at)
        since = self._clock() if self._behind_since is None else self._behind_since
        if self._shown:
            return (CATCH_UP, since)
        if self._behind_since is None and self.message_ts:
            return (STATUS, since)  # no text yet: only the placeholder's words changed
        return (FIRST, since)  # the placeholder, or the answer's first text

    def _chunks(self) -> list[str]:
        # A flush asks for the parts several times (to find a stale one, after its slot, after
        # its call); converting the whole answer each time was most of a busy bot's CPU. The text
        # only grows, so its piece count says whether it changed since the last conversion.
        state = (len(self._text), self._suffix, self._placeholder, self._limit)
        if self._memo is None or self._memo[0] != state:
            self._memo = (state, self._convert())
        return self._memo[1]

    def _convert(self) -> list[str]:
        # The note is mrkdwn already and goes after the rendered answer: rendered with it, its
        # mentions would be escaped and it would land inside a code block the answer left open.
        text = self.text
        body = self._render(text) if text else ""
        if self._suffix:
            body = f"{body}\n\n{self._suffix}" if body else self._suffix
        if not body:
            return [self._placeholder]
        return split_mrkdwn(body, self._limit) or [self._placeholder]

    def _rendered(self, chunks: list[str], index: int, *, final: bool) -> Rendered:
        chunk = chunks[index]
        if self._controls is None:
            return Rendered(chunk)
        controls = self._controls(final) if index == len(chunks) - 1 else None
        return Rendered(chunk, message_blocks(chunk, controls))

    def _stale(self, chunks: list[str], final: bool, start: int) -> int | None:
        """The first part from `start` on that Slack shows differently, or None when all are in line."""
        for index in range(start, len(chunks)):
            if index >= len(self._sent) or self._sent[index] != self._rendered(chunks, index, final=final):
                return index
        return None

    async def _flush(self) -> tuple[bool, bool]:
        """Bring Slack in line with the text, one budgeted call at a time.

        Returns (in line, final): False when a rate limit left Slack behind.
        """
        final = self._closing
        start = 0
        while (index := self._stale(self._chunks(), final, start)) is not None:
            posting = index >= len(self.message_ts)
            await self._gate.slot(self._key(POST if posting else UPDATE), self._rank)
            # Everything that arrived while we waited goes into this call.
            final = self._closing
            since, self._behind_since = self._behind_since, None
            chunks = self._chunks()
            if index >= len(chunks):
                break
            wanted = self._rendered(chunks, index, final=final)
            if posting:
                ok = await self._post(wanted)
            else:
                ok = await self._update(index, wanted)
            if not ok:
                if since is not None:
                    self._behind_since = min(since, self._behind_since or since)
                return False, final
            self._shown = self._shown or bool(self._text)
            start = index + 1  # text that arrived during the call waits for the next flush (and its gap)
        chunks = self._chunks()
        for index in range(len(chunks), len(self.message_ts)):
            await self._delete_extra(index)
        # Text that arrived during a call may have changed a part this round had already passed
        # (the first part, when the rest of a long answer came while it was being edited): not
        # in line, so the next flush edits it, even after the final one.
        return self._stale(chunks, final, 0) is None, final

    async def _update(self, index: int, wanted: Rendered) -> bool:
        ts = self.message_ts[index]
        try:
            await self._slack.chat_update(channel=self.channel, ts=ts, text=wanted.text, blocks=wanted.blocks)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if is_rate_limited(exc):
                await self._gate.penalize(self._key(UPDATE), retry_after_of(exc))
                return False
            if error == "streaming_state_conflict":
                # A native stream this message was (bot.slack.native) is still closing: try again.
                log.info("chat.update found the message still streaming; trying again")
                await asyncio.sleep(CONFLICT_PAUSE)
                return False
            if error == "msg_too_long" and self._limit > 1000:
                # Slack counted more than we did (e.g. entities); split smaller and try again.
                self._limit = int(self._limit * 0.8)
                log.warning(
                    "chat.update refused %d characters; splitting at %d", len(wanted.text), self._limit
                )
                return False
            if error in ("message_not_found", "cant_update_message", "edit_window_closed"):
                # Someone deleted our message: post this part anew rather than lose it.
                log.warning("chat.update failed with %s; posting the text as a new reply", error)
                response = await self._call_with_retry(
                    "chat.postMessage",
                    lambda: self._slack.chat_postMessage(
                        channel=self.channel, thread_ts=self.thread_ts, text=wanted.text, blocks=wanted.blocks
                    ),
                )
                self.message_ts[index] = str(response["ts"])
                self._sent[index] = wanted
                return True
            raise
        self._sent[index] = wanted
        return True

    async def _post(self, wanted: Rendered) -> bool:
        try:
            response = await self._slack.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, text=wanted.text, blocks=wanted.blocks
            )
        except SlackApiError as exc:
            if is_rate_limited(exc):
                await self._gate.penalize(self._key(POST), retry_after_of(exc))
                return False
            raise
        self.message_ts.append(str(response["ts"]))
        self._sent.append(wanted)
        return True

    async def _salvage(self) -> None:
        """After a refusal, end the last message Slack accepted with the text it shows and a note."""
        if self.failure is None or not self._sent:
            return
        index = len(self._sent) - 1
        shown = self._sent[index].text
        note = self._with_footnotes(self._note or f"⚠️ {self.failure.user_message}")
        if shown == self._placeholder:
            shown = ""
        text = f"{shown}\n\n{note}" if shown else note
        if len(text) > self._limit:
            text = text[: self._limit - len(note) - 3] + "…\n\n" + note
        try:
            await self._slack.chat_update(
                channel=self.channel,
                ts=self.message_ts[index],
                text=text,
                blocks=[] if self._controls else None,
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.error("could not end an answer in %s with its note: %s", self.channel, type(exc).__name__)

    async def _delete_extra(self, index: int) -> None:
        # Re-splitting rarely yields fewer parts than were posted; empty the surplus rather than
        # leave a stale copy of text that now lives in an earlier message.
        empty = Rendered("\u200b", [] if self._controls is not None else None)
        if self._sent[index] != empty:
            try:
                await self._slack.chat_update(
                    channel=self.channel, ts=self.message_ts[index], text=empty.text, blocks=empty.blocks
                )
                self._sent[index] = empty
            except SlackApiError as exc:
                log.warning("could not empty a surplus message: %s", exc.response.get("error"))

    async def _call_with_retry(
        self, what: str, call: Callable[[], Awaitable[AsyncSlackResponse]], attempts: int = 5
    ) -> AsyncSlackResponse:
        """A post that must happen (the placeholder, a lost part anew): budgeted, 429s waited out."""
        for attempt in range(attempts):
            await self._gate.slot(self._key(POST), self._rank)
            try:
                return await call()
            except SlackApiError as exc:
                if not is_rate_limited(exc) or attempt == attempts - 1:
                    raise
                delay = retry_after_of(exc)
                log.info("%s rate limited; retrying in %.1f s", what, delay)
                await self._gate.penalize(self._key(POST), delay)
        raise AssertionError("unreachable")
