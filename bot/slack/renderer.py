"""Show a streamed answer in Slack by posting a placeholder and editing it as text arrives.

One `StreamingReply` per answer, used by every surface. Its rules come from Slack's limits:
- the first content is shown as soon as it arrives; after that at most one edit per `interval`,
  and never more than one Slack call in flight per answer: text arriving meanwhile is coalesced
  into the next edit instead of queueing edits;
- a 429 on an edit blocks edits for the whole workspace (`EditGate`) for Retry-After seconds,
  because chat.update's limit is per workspace and app: other answers skip their intermediate
  edits instead of piling into the same limit;
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
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.errors import RenderError
from bot.slack.blocks import message_blocks
from bot.text.mrkdwn import markdown_to_mrkdwn
from bot.text.splitting import split_mrkdwn

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 3800  # leaves room under 4,000 for Slack counting entities differently
PLACEHOLDER = "_Thinking…_"
TRANSIENT_FAILURES = 3  # network failures in a row before the renderer gives up


def retry_after_of(exc: SlackApiError, default: float = 1.0) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def is_rate_limited(exc: SlackApiError) -> bool:
    return getattr(exc.response, "status_code", None) == 429 or exc.response.get("error") == "ratelimited"


class EditGate:
    """Per-workspace hold after a 429, shared by all answers in flight."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self.rate_limited = 0  # 429s seen, for logs and the benchmark

    def delay(self, team: str) -> float:
        return max(0.0, self._until.get(team, 0.0) - self._clock())

    def hold(self, team: str, seconds: float) -> None:
        self.rate_limited += 1
        self._until[team] = max(self._until.get(team, 0.0), self._clock() + seconds)


# Slack's own trouble, worth another try; any other refusal will not change on a retry.
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})


def _transient(exc: Exception) -> bool:
    if isinstance(exc, SlackApiError):
        return exc.response.get("error") in TRANSIENT_ERRORS
    return True


def _describe(exc: Exception) -> str:
    return str(exc.response.get("error")) if isinstance(exc, SlackApiError) else type(exc).__name__


Blocks = list[dict[str, Any]]
Controls = Callable[[bool], Blocks]  # final? -> action blocks for the last message of an answer


@dataclass(frozen=True, slots=True)
class Rendered:
    """What one Slack message of the answer shows: text, plus blocks when the answer has buttons."""

    text: str
    blocks: Blocks | None = None


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
        gate: EditGate,
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
        self.message_ts: list[str] = []
        self._sent: list[Rendered] = []
        self._dirty = asyncio.Event()
        self._closing = False
        self._flusher: asyncio.Task[None] | None = None
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
        self._flusher = asyncio.create_task(self._flush_loop(), name=f"render:{self.channel}:{ts}")
        return ts

    def append(self, text: str) -> None:
        """Add streamed text; raises `RenderError` once Slack has refused the answer for good."""
        if self.failure is not None:
            raise self.failure
        if text:
            self._text.append(text)
            self._dirty.set()

    def status(self, text: str) -> None:
        """Replace the placeholder's words (e.g. "Summarizing part 2 of 5…") until text arrives."""
        self._placeholder = text
        self._dirty.set()

    async def finish(self, *, note: str = "") -> list[str]:
        """Deliver the complete answer and stop editing.

        `note` (e.g. why the answer was cut off) is mrkdwn, shown as given after the answer.
        """
        if self._flusher is None:
            return []  # the placeholder never went up: nothing to finish
        self._suffix = note
        self._closing = True
        self._dirty.set()
        await self._flusher
        if self.failure is not None:
            await self._salvage()
        return list(self.message_ts)

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
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            self._fail(RenderError(_describe(exc)))
        except Exception as exc:  # a bug of ours must still end the answer in words
            log.exception("rendering an answer in %s failed", self.channel)
            self._fail(RenderError(type(exc).__name__))

    def _fail(self, failure: RenderError) -> None:
        log.warning("Slack refused an answer in %s (%s); ending it there", self.channel, failure.error)
        self.failure = failure

    async def _flush_until_done(self) -> None:
        last_edit: float | None = None
        final_tries = 0
        transient = 0
        while True:
            await self._dirty.wait()
            if last_edit is not None:
                # Coalesce: anything arriving while we wait goes into this one edit.
                await self._sleep_until(last_edit + self._interval)
            await self._sleep_until(self._clock() + self._gate.delay(self.team))
            self._dirty.clear()
            closing = self._closing
            last_edit = self._clock()
            try:
                done = await self._flush(final=closing)
                transient = 0
            except (aiohttp.ClientError, TimeoutError, SlackApiError) as exc:
                transient += 1
                if not _transient(exc) or transient >= TRANSIENT_FAILURES:
                    raise
                log.info("a Slack call failed (%s); trying again with the next edit", _describe(exc))
                done = False
            if closing and done:
                return
            if closing:
                final_tries += 1
                if final_tries >= self._final_attempts:
                    log.error("giving up on the final edit in %s after %d tries", self.channel, final_tries)
                    return
            if not done:
                self._dirty.set()

    async def _sleep_until(self, when: float) -> None:
        delay = when - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)

    def _chunks(self) -> list[str]:
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

    async def _flush(self, *, final: bool) -> bool:
        """Bring Slack in line with the text; False when a rate limit left it behind."""
        chunks = self._chunks()
        for index in range(len(chunks)):
            wanted = self._rendered(chunks, index, final=final)
            if index < len(self.message_ts):
                if self._sent[index] == wanted:
                    continue
                if not await self._update(index, wanted, final=final):
                    return False
            else:
                if not await self._post(wanted):
                    return False
        for index in range(len(chunks), len(self.message_ts)):
            await self._delete_extra(index)
        return True

    async def _update(self, index: int, wanted: Rendered, *, final: bool) -> bool:
        ts = self.message_ts[index]
        try:
            await self._slack.chat_update(channel=self.channel, ts=ts, text=wanted.text, blocks=wanted.blocks)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if is_rate_limited(exc):
                self._gate.hold(self.team, retry_after_of(exc))
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
                self._gate.hold(self.team, retry_after_of(exc))
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
        note = self._suffix or f"⚠️ {self.failure.user_message}"
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
        for attempt in range(attempts):
            try:
                return await call()
            except SlackApiError as exc:
                if not is_rate_limited(exc) or attempt == attempts - 1:
                    raise
                delay = retry_after_of(exc)
                log.info("%s rate limited; retrying in %.1f s", what, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")
