"""One answer's life in Slack: its placeholder, its renderer task and its upstream stream, in one unit.

    async with AnswerLifecycle(reply, stops, answer_id=..., asker=...) as run:
        ...                                  # record the question, build the prompt
        await run.stream(llm.stream_chat(request))

Whatever ends the body — the model finishing, an upstream error, Slack refusing the answer, a
Stop, a shutdown, or a bug of ours — the exit runs the same ending: the message keeps the text
streamed so far and gains a plain note saying why it ended, the renderer's task has ended and the
upstream response is closed. Only a shutdown's cancellation goes on up (after the note is shown);
every other ending is reported in `outcome` instead of raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.core.stop import StopRegistry
from bot.errors import BotError, RenderError, UpstreamError
from bot.llm.client import ChatDelta, Usage
from bot.llm.tools import ToolCall, ToolCallAssembler
from bot.slack.renderer import Reply
from bot.text.mrkdwn import markdown_to_mrkdwn

log = logging.getLogger(__name__)

# The final edit waits out rate limits, but not forever. Waiting is queueing, not failing: 1,000
# answers at once at Slack's 50 edits a minute need minutes, and 60 s left 169 of them showing
# half an answer for good (bench workspace, 1,000 at once, the bot's rates at their defaults).
FINISH_SECONDS = 900.0
INTERRUPTED_FINISH_SECONDS = 5.0  # a shutdown has its own deadline

LENGTH_NOTE = "⚠️ **Answer cut off:** it reached the configured length limit (MAX_TOKENS)."
EMPTY_NOTE = "⚠️ RelayDance returned an empty answer."
INTERRUPTED_NOTE = "⚠️ **Interrupted:** the bot was restarting. Ask again in a moment."
BUG_NOTE = "⚠️ **Something went wrong on my side** and the answer stopped here. Ask again in a moment."
# The placeholder while a reasoning model reasons before its answer (the first one says "Thinking…").
REASONING = "_Reasoning before answering…_"


class NotPosted(BotError):
    """Slack refused the placeholder: there is no message to answer in."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)


@dataclass(slots=True)
class AnswerOutcome:
    answer_id: str
    message_ts: list[str] = field(default_factory=list)
    text: str = ""
    error: UpstreamError | RenderError | None = None
    stopped_by: str | None = None
    interrupted: bool = False
    crashed: bool = False
    finish_reason: str | None = None
    usage: Usage | None = None
    started_at: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None

    @property
    def latency_ms(self) -> int | None:
        if self.first_token_at is None:
            return None
        return int((self.first_token_at - self.started_at) * 1000)


class AnswerLifecycle:
    def __init__(
        self,
        reply: Reply,
        stops: StopRegistry,
        *,
        answer_id: str,
        asker: str | None,
        finish_seconds: float = FINISH_SECONDS,
    ) -> None:
        self.reply = reply
        self.outcome = AnswerOutcome(answer_id=answer_id)
        self._stops = stops
        self._asker = asker
        self._finish_seconds = finish_seconds

    async def __aenter__(self) -> AnswerLifecycle:
        """Post the placeholder; from here on the answer is stoppable and will end in words."""
        try:
            await self.reply.start()
        except SlackApiError as exc:
            raise NotPosted(str(exc.response.get("error"))) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NotPosted(type(exc).__name__) from None
        task = asyncio.current_task()
        if task is not None:
            await self._stops.register(self.outcome.answer_id, task, self._asker)
        return self

    async def stream(
        self,
        deltas: AsyncGenerator[ChatDelta, None],
        *,
        on_first_token: Callable[[], Awaitable[None]] | None = None,
    ) -> list[ToolCall]:
        """Show the upstream answer as it arrives; the response is closed however this ends.

        Reasoning is never shown or kept: its first piece before any text only changes the
        placeholder's words (`REASONING`), so the asker sees the model is at work.

        Returns the tool calls the model asked for (none for a plain answer). Called once per
        request of the answer: usage adds up over them, the last finish reason counts.
        """
        outcome = self.outcome
        thinking = False
        calls = ToolCallAssembler()
        earlier = outcome.usage  # the answer's earlier requests; a stream's own usage comes once
        async with contextlib.aclosing(deltas) as stream:
            async for delta in stream:
                if delta.tool_calls:
                    calls.feed(delta.tool_calls)
                if delta.reasoning and not thinking and outcome.first_token_at is None:
                    thinking = True
                    self.reply.status(REASONING)
                if delta.text:
                    self.reply.append(delta.text)  # first: the renderer shows it while we go on
                    if outcome.first_token_at is None:
                        outcome.first_token_at = time.monotonic()
                        if on_first_token is not None:
                            await on_first_token()
                if delta.finish_reason:
                    outcome.finish_reason = delta.finish_reason
                if delta.usage is not None:
                    outcome.usage = _added(earlier, delta.usage)
        return calls.calls()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        outcome = self.outcome
        answer_id = outcome.answer_id
        stopped_by = self._stops.stopped_by(answer_id)
        # From here a Stop has nothing to stop, and must not cancel the final edit.
        await self._stops.unregister(answer_id)
        suppress = True
        deadline = self._finish_seconds
        if exc is None:
            note = self._natural_note()
        elif isinstance(exc, UpstreamError):
            outcome.error = exc
            log.warning(
                "RelayDance failed (%s, status %s): %s", type(exc).__name__, exc.status, exc.detail[:200]
            )
            note = markdown_to_mrkdwn(
                f"⚠️ **Answer cut off:** {exc.user_message}" if self.reply.text else f"⚠️ {exc.user_message}"
            )
        elif isinstance(exc, RenderError):
            outcome.error = exc
            note = f"⚠️ {exc.user_message}"
        elif isinstance(exc, asyncio.CancelledError):
            task = asyncio.current_task()
            if stopped_by is not None and task is not None:
                task.uncancel()  # a Stop, not a shutdown: finish the message as it stands
                outcome.stopped_by = stopped_by
                note = f"⏹️ _Stopped by <@{stopped_by}>._"  # mrkdwn: the mention stays live
            else:
                outcome.interrupted = True
                note = markdown_to_mrkdwn(INTERRUPTED_NOTE)
                deadline = INTERRUPTED_FINISH_SECONDS
                suppress = False
        elif isinstance(exc, Exception):
            outcome.crashed = True
            log.error("an answer in %s failed", self.reply.channel, exc_info=exc)
            note = markdown_to_mrkdwn(BUG_NOTE)
        else:
            suppress = False  # KeyboardInterrupt, SystemExit: not ours to swallow
            note = markdown_to_mrkdwn(INTERRUPTED_NOTE)
        await self._finish(note, deadline)
        return suppress

    def _natural_note(self) -> str:
        if self.outcome.finish_reason == "length":
            return markdown_to_mrkdwn(LENGTH_NOTE)
        if not self.reply.text:
            return EMPTY_NOTE
        return ""

    async def _finish(self, note: str, deadline: float) -> None:
        """The final edit, bounded in time; the renderer's task has ended when this returns."""
        outcome = self.outcome
        try:
            async with asyncio.timeout(deadline):
                outcome.message_ts = await self.reply.finish(note=note)
        except TimeoutError:
            log.error("the final edit in %s did not go through in %.0f s", self.reply.channel, deadline)
            outcome.message_ts = list(self.reply.message_ts)
        finally:
            await self.reply.cancel()
        if self.reply.failure is not None and outcome.error is None:
            outcome.error = self.reply.failure
        outcome.text = self.reply.text


def _added(total: Usage | None, more: Usage) -> Usage:
    if total is None:
        return more
    return Usage(
        prompt_tokens=total.prompt_tokens + more.prompt_tokens,
        completion_tokens=total.completion_tokens + more.completion_tokens,
        total_tokens=total.total_tokens + more.total_tokens,
    )
