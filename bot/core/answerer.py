"""The one path from a question to a streamed answer, shared by every Slack surface.

Order matters for what the user sees: the placeholder is posted first, waiting for nothing but
the dedupe claim made by the caller; the question is recorded, the channel's settings read and the
prompt built once it is up (measured in bench/: doing that work alongside the post delays the post
under load); the renderer shows text as it streams. `AnswerLifecycle` guarantees the message ends
in words however the answer ends.

Answers in one conversation take turns (`Turns`, shared by replicas), in the order of their
questions: from building the prompt until the answer is kept in history, so a question asked
while the previous answer streams is answered with that answer's final text in its prompt. A
waiting answer says so on its placeholder, and goes on anyway after `TURN_WAIT_SECONDS`. Recording
the question and reading the channel's settings need no turn, and go on while it is taken.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot import log_context
from bot.core.archive import ANSWERS_TO_A_MESSAGE, AnswerArchive
from bot.core.attachments import FileContents
from bot.core.knowledge import Citations
from bot.core.lifecycle import AnswerLifecycle, AnswerOutcome, NotPosted
from bot.core.placeholders import PlaceholdersFirst
from bot.core.question import PromptBuilder, Question
from bot.core.stop import StopRegistry
from bot.errors import UpstreamContextTooLong
from bot.llm.client import ChatRequest, RelayDanceClient
from bot.llm.tools import ToolCall, assistant_message
from bot.model import AnswerKind, Conversation
from bot.slack.blocks import final_controls, native_final_controls, streaming_controls
from bot.slack.native import NativeReply, StreamBook
from bot.slack.renderer import PLACEHOLDER, Blocks, EditGate, Reply, StreamingReply
from bot.stores.channel_settings import ChannelSettings, Effective
from bot.stores.history import HistoryStore
from bot.stores.threads import ActiveThreads
from bot.stores.turns import Turn, Turns
from bot.text.images import with_images
from bot.text.prompt import MIN_BUDGET_TOKENS, estimate_tokens, smaller_budget

log = logging.getLogger(__name__)

WAITING = "_Waiting for the previous answer…_"
TURN_WAIT_SECONDS = 120.0  # then an answer goes on without waiting for the one before it
CONTEXT_RETRIES = 2  # prompts built again, each smaller, after the model refused one as too long


class AnswerObserver(Protocol):
    """Told when each answer starts and ends, however it ends (the runtime's metrics)."""

    def answer_started(self) -> None: ...

    def answer_finished(self, kind: str, outcome: AnswerOutcome, model: str) -> None: ...


class Toolbox(Protocol):
    """Tools one answer offers the model (`bot.core.knowledge_tools.KnowledgeTools`)."""

    @property
    def specs(self) -> Sequence[Mapping[str, object]]: ...

    def offered(self, config: Effective) -> bool: ...

    async def run(self, calls: Sequence[ToolCall], reply: Reply) -> list[dict[str, str]]: ...


class Answerer:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        llm: RelayDanceClient,
        gate: EditGate,
        stops: StopRegistry,
        channels: ChannelSettings,
        threads: ActiveThreads,
        history: HistoryStore,
        archive: AnswerArchive,
        turns: Turns,
        edit_interval: float,
        max_tokens: int | None,
        observer: AnswerObserver | None = None,
        turn_wait_seconds: float = TURN_WAIT_SECONDS,
        max_tool_steps: int = 0,
        images: FileContents | None = None,
        native_streaming: str = "off",
        placeholders: PlaceholdersFirst | None = None,
    ) -> None:
        """`images`: given (IMAGE_INPUT), a chat question's own images go to the model too."""
        self._slack = slack
        self._llm = llm
        self._gate = gate
        self._stops = stops
        self._channels = channels
        self._threads = threads
        self._history = history
        self._archive = archive
        self._turns = turns
        self._turn_wait = turn_wait_seconds
        self._edit_interval = edit_interval
        self._max_tokens = max_tokens
        self._observer = observer
        self._max_tool_steps = max_tool_steps
        self._images = images
        self._native = native_streaming  # "auto" | "on" | "off": see bot.slack.native
        self._streams = StreamBook()
        self._placeholders = placeholders if placeholders is not None else PlaceholdersFirst()

    async def answer(
        self,
        question: Question,
        prompt: PromptBuilder,
        *,
        on_first_token: Callable[[], Awaitable[None]] | None = None,
        record_in: Conversation | None = None,
        citations: Citations | None = None,
        tools: Toolbox | None = None,
    ) -> AnswerOutcome:
        """Answer `question` in its thread; with `record_in`, first record the question there
        (once the placeholder is up, so the placeholder waits for nothing); with `tools`, the
        model may call them (`_converse`)."""
        conv = question.conversation
        answer_id = uuid.uuid4().hex[:16]
        # This runs in the answer's own task: every log line from here on names the answer.
        log_context.bind(
            team=conv.team, channel=conv.channel, thread=question.reply_thread_ts, answer=answer_id
        )

        def controls(final: bool) -> Blocks:
            return final_controls(answer_id) if final else streaming_controls(answer_id)

        def post_and_edit() -> StreamingReply:
            return StreamingReply(
                slack=self._slack,
                team=conv.team,
                channel=conv.channel,
                thread_ts=question.reply_thread_ts,
                gate=self._gate,
                interval=self._edit_interval,
                controls=controls,
            )

        reply: Reply = (
            post_and_edit()
            if self._native == "off"
            else NativeReply(
                slack=self._slack,
                team=conv.team,
                channel=conv.channel,
                thread_ts=question.reply_thread_ts,
                recipient=question.asked_by,
                gate=self._gate,
                interval=self._edit_interval,
                post_and_edit=post_and_edit,
                start_blocks=streaming_controls(answer_id),
                final_blocks=native_final_controls(answer_id),
                book=self._streams,
                wait=self._native == "on",
            )
        )
        lifecycle = AnswerLifecycle(reply, self._stops, answer_id=answer_id, asker=question.asked_by)
        where = Conversation(conv.team, conv.channel, question.reply_thread_ts)
        ticket = self._turns.ticket(where, order=_order(question))
        # In line while the placeholder is posted: a later question must not get its turn first.
        joining = asyncio.create_task(self._turns.join(ticket))
        turn: Turn | None = None
        model = ""
        if self._observer is not None:
            self._observer.answer_started()
        with self._placeholders.pending() as posted:
            try:
                async with lifecycle as run:
                    posted()
                    await self._placeholders.wait()  # under a burst, the others' placeholders first
                    await joining
                    # What needs no turn goes on while the turn is taken: under a burst of mentions
                    # each step an answer waits for before its request delays all of them.
                    prepared = asyncio.create_task(self._prepare(question, record_in))
                    try:
                        turn = await self._turns.take(
                            ticket, wait_seconds=self._turn_wait, on_wait=lambda: reply.status(WAITING)
                        )
                    except BaseException:
                        prepared.cancel()
                        await asyncio.wait([prepared])
                        if not prepared.cancelled():
                            prepared.exception()  # retrieved: the turn's failure is the one to report
                        raise
                    config = await prepared
                    if turn.waited:
                        reply.status(PLACEHOLDER)
                    model = config.model
                    await self._ask(run, question, prompt, config, tools, on_first_token)
                    if citations is not None and (footer := citations.footer(reply.text)):
                        reply.append(footer)  # the threads the answer used, as links
                # Kept before the turn passes on, so the next answer here reads this one whole.
                await self._archive.keep(question, lifecycle.outcome, where=where, model=model)
            except NotPosted as exc:
                log.warning("could not post in %s: %s", conv.channel, exc.error)
            finally:
                if self._observer is not None:
                    self._observer.answer_finished(question.kind.value, lifecycle.outcome, model)
                await asyncio.wait([joining])  # bounded by the guard
                if turn is not None:
                    await turn.release()
                else:
                    await self._turns.leave(ticket)  # never got that far (not posted, or a failure)
        return lifecycle.outcome

    async def _ask(
        self,
        run: AnswerLifecycle,
        question: Question,
        prompt: PromptBuilder,
        config: Effective,
        tools: Toolbox | None,
        on_first_token: Callable[[], Awaitable[None]] | None,
    ) -> None:
        """Build the prompt and stream the answer; when the model refuses the prompt as too long
        before any text was shown, build it again within a smaller budget (at most
        `CONTEXT_RETRIES` times), leaving out more of the oldest messages — the prompt says how
        many. The last refusal ends the answer in plain words."""
        limit: int | None = None
        for attempt in range(CONTEXT_RETRIES + 1):
            try:
                messages = await self._with_images(question, await prompt(run.reply, config, limit))
                offered = tools if tools is not None and tools.offered(config) else None
                try:
                    await self._converse(run, config, messages, offered, on_first_token)
                except UpstreamContextTooLong as exc:
                    exc.sent_estimate = sum(
                        estimate_tokens(text) for m in messages if isinstance(text := m.get("content"), str)
                    )
                    raise
                return
            except UpstreamContextTooLong as exc:
                sent = exc.sent_estimate
                if run.reply.text or attempt == CONTEXT_RETRIES or sent is None:
                    raise
                smaller = smaller_budget(
                    sent, limit=exc.limit, counted=exc.prompt_tokens, reserved=self._max_tokens or 0
                )
                if smaller < MIN_BUDGET_TOKENS:
                    raise
                log.info(
                    "the model's context is too small for %d estimated tokens (window %s, counted %s);"
                    " building the prompt again within %d",
                    sent,
                    exc.limit,
                    exc.prompt_tokens,
                    smaller,
                )
                limit = smaller if limit is None else min(limit - 1, smaller)

    async def _converse(
        self,
        run: AnswerLifecycle,
        config: Effective,
        messages: Sequence[Mapping[str, object]],
        tools: Toolbox | None,
        on_first_token: Callable[[], Awaitable[None]] | None,
    ) -> None:
        """Stream the answer; while the model asks for tools, run them and ask again with their
        results. After `max_tool_steps` rounds the last request still lists the tools (the
        conversation refers to them) but with `tool_choice: "none"`, so the model must answer.
        A model that ignores tools just answers the first request."""
        history = list(messages)
        steps = 0
        offer = tools is not None and self._max_tool_steps > 0
        while True:
            capped = steps >= self._max_tool_steps
            request = ChatRequest(
                model=config.model,
                messages=history,
                temperature=config.temperature,
                max_tokens=self._max_tokens,
                tools=tools.specs if offer and tools is not None else None,
                tool_choice=("none" if capped else "auto") if offer else None,
            )
            before = len(run.reply.text)
            calls = await run.stream(self._llm.stream_chat(request), on_first_token=on_first_token)
            if not offer or tools is None or capped or not calls:
                return
            steps += 1
            said = run.reply.text[before:]
            if said and not said.endswith("\n"):
                run.reply.append("\n\n")  # what it said before searching stays its own paragraph
            log.info("tool step %d: %s", steps, ", ".join(call.name for call in calls))
            # The tools' progress ("Searching #ops…") stays up until the model's next words.
            history += [assistant_message(said, calls), *await tools.run(calls, run.reply)]

    async def _with_images(
        self, question: Question, messages: list[dict[str, str]]
    ) -> Sequence[Mapping[str, object]]:
        """The prompt (already redacted) with the question's images, when the model gets images."""
        if self._images is None or question.kind is not AnswerKind.CHAT:
            return messages
        return with_images(messages, await self._images.images(question.message.files))

    async def _prepare(self, question: Question, record_in: Conversation | None) -> Effective:
        """Record the question (with `record_in`), read the channel's settings, mark the thread
        as one the bot takes part in."""
        conv = question.conversation
        if record_in is not None:
            await self._history.record(record_in, question.message)
        config = await self._channels.effective(conv.team, conv.channel)
        if question.kind in (AnswerKind.CHAT, AnswerKind.ASK):
            await self._threads.mark(conv)
        return config


def _order(question: Question) -> str:
    """Where the answer's turn comes: after earlier questions in its conversation."""
    if question.kind in ANSWERS_TO_A_MESSAGE:
        return question.message.ts
    return f"{time.time():.6f}"  # a summary or recap: in the order it was asked for
