"""The one path from a question to a streamed answer, shared by every Slack surface.

Order matters for what the user sees: the placeholder is posted first, waiting for nothing but
the dedupe claim; history, names and channel settings are read once it is up (measured in bench/:
doing that work alongside the post delays the post under load); the renderer shows text as it
streams. Failures end as a plain sentence in the thread, and
text already streamed is kept. A Stop button cancels the answer's task, which closes the upstream
stream; the message then ends as it stands, marked as stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import UpstreamError
from bot.llm.client import ChatRequest, RelayDanceClient, Usage
from bot.settings import Settings
from bot.slack.blocks import final_controls, streaming_controls
from bot.slack.reads import BotIdentity, fetch_recent, fetch_thread
from bot.slack.renderer import Blocks, EditGate, StreamingReply
from bot.slack.users import UserDirectory
from bot.stores.history import Conversation, HistoryStore, StoredMessage, ts_key
from bot.stores.records import AnswerRecord, ChannelConfig, Effective, Records, effective
from bot.text.mrkdwn import markdown_to_mrkdwn
from bot.text.prompt import Turn, build_messages
from bot.text.slack_markup import mentioned_user_ids, slack_to_plain

log = logging.getLogger(__name__)

RECENT_DM_MESSAGES = 50


@dataclass(frozen=True, slots=True)
class Question:
    """A message the bot should answer, and where its conversation lives."""

    conversation: Conversation  # thread (or DM top level) whose history the answer uses
    message: StoredMessage  # the message being answered
    reply_thread_ts: str | None  # thread to post the answer in; None: top level of a DM
    kind: str = "chat"  # chat | summary | recap | ask: what Regenerate replays
    params: dict[str, Any] = field(default_factory=dict)
    asker: str | None = None  # who may stop it (defaults to the message's author)

    @property
    def asked_by(self) -> str | None:
        return self.asker or self.message.user


# Builds the request messages for a non-chat job (e.g. a summary); may report progress on the
# placeholder and call RelayDance itself for map-reduce steps.
PromptBuilder = Callable[[StreamingReply, Effective], Awaitable[list[dict[str, str]]]]


@dataclass(slots=True)
class AnswerOutcome:
    answer_id: str = ""
    message_ts: list[str] = field(default_factory=list)
    text: str = ""
    error: UpstreamError | None = None
    stopped_by: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    first_token_at: float | None = None


@dataclass(slots=True)
class _Run:
    task: asyncio.Task[Any]
    asker: str | None
    stopped_by: str | None = None


class Answerer:
    def __init__(
        self,
        *,
        settings: Settings,
        slack: AsyncWebClient,
        llm: RelayDanceClient,
        store: HistoryStore,
        records: Records,
        names: UserDirectory,
        gate: EditGate,
        identity: BotIdentity,
    ) -> None:
        self._settings = settings
        self._slack = slack
        self._llm = llm
        self._store = store
        self._records = records
        self._names = names
        self._gate = gate
        self._identity = identity
        self._running: dict[str, _Run] = {}

    # -- stopping ------------------------------------------------------------------------------

    def stop(self, answer_id: str, user: str, *, is_admin: bool) -> str:
        """Stop a streaming answer: "stopped", "not_allowed" or "not_running"."""
        run = self._running.get(answer_id)
        if run is None or run.task.done():
            return "not_running"
        if not (is_admin or user == run.asker or user in self._settings.admin_users):
            return "not_allowed"
        if run.stopped_by is None:
            run.stopped_by = user
            run.task.cancel()
        return "stopped"

    # -- answering -----------------------------------------------------------------------------

    async def complete(self, messages: list[dict[str, str]], config: Effective) -> str:
        """A whole (non-displayed) completion, e.g. one map step of a summary."""
        request = ChatRequest(model=config.model, messages=messages, temperature=config.temperature)
        parts: list[str] = []
        async with contextlib.aclosing(self._llm.stream_chat(request)) as deltas:
            async for delta in deltas:
                parts.append(delta.text)
        return "".join(parts)

    async def answer(
        self,
        question: Question,
        *,
        prompt: PromptBuilder | None = None,
        on_first_token: Callable[[], Awaitable[None]] | None = None,
        record_in: Conversation | None = None,
    ) -> AnswerOutcome:
        """Answer `question`; with `record_in`, first record the question there (once the
        placeholder is up, so the placeholder waits for nothing)."""
        conv = question.conversation
        answer_id = uuid.uuid4().hex[:16]
        outcome = AnswerOutcome(answer_id=answer_id)

        def controls(final: bool) -> Blocks:
            return final_controls(answer_id) if final else streaming_controls(answer_id)

        reply = StreamingReply(
            slack=self._slack,
            team=conv.team,
            channel=conv.channel,
            thread_ts=question.reply_thread_ts,
            gate=self._gate,
            interval=self._settings.edit_interval,
            controls=controls,
        )
        task = asyncio.current_task()
        if task is not None:
            self._running[answer_id] = _Run(task, question.asked_by)
        placeholder = asyncio.create_task(reply.start(), name="placeholder")
        config_task = asyncio.create_task(self._records.channel_config(conv.team, conv.channel))
        started = time.monotonic()
        try:
            try:
                await placeholder
            except SlackApiError as exc:
                config_task.cancel()
                log.warning("could not post in %s: %s", conv.channel, exc.response.get("error"))
                return outcome
            if record_in is not None:
                await self._store.record(record_in, question.message)
            config = await self._stream(question, reply, outcome, config_task, prompt, on_first_token)
        finally:
            self._running.pop(answer_id, None)
            if not placeholder.done():
                placeholder.cancel()
        if outcome.message_ts:
            latency = (
                None if outcome.first_token_at is None else int((outcome.first_token_at - started) * 1000)
            )
            await self._records.save_answer(
                AnswerRecord(
                    answer_id=answer_id,
                    team=conv.team,
                    channel=conv.channel,
                    asker=question.asked_by,
                    kind=question.kind,
                    params={
                        **question.params,
                        "conv_thread_ts": conv.thread_ts,
                        "reply_thread_ts": question.reply_thread_ts,
                        "message": question.message.dumps(),
                    },
                    model=config.model,
                    latency_ms=latency,
                    message_ts=outcome.message_ts,
                )
            )
            if question.asked_by:
                tokens = outcome.usage.total_tokens if outcome.usage else len(outcome.text) // 4
                await self._records.add_usage(conv.team, question.asked_by, tokens=tokens)
        return outcome

    async def _stream(
        self,
        question: Question,
        reply: StreamingReply,
        outcome: AnswerOutcome,
        config_task: asyncio.Task[ChannelConfig],
        prompt: PromptBuilder | None,
        on_first_token: Callable[[], Awaitable[None]] | None,
    ) -> Effective:
        settings = self._settings
        note = ""
        config = effective(settings, ChannelConfig())
        try:
            # Everything after the placeholder is inside this try, so a Stop pressed at any
            # moment ends the message cleanly.
            config = effective(settings, await config_task)
            if question.kind in ("chat", "ask"):
                await self._store.mark_active(question.conversation)
            if prompt is None:
                messages = await self._prompt(question, config)
            else:
                messages = await prompt(reply, config)
            request = ChatRequest(
                model=config.model,
                messages=messages,
                temperature=config.temperature,
                max_tokens=settings.max_tokens,
            )
            # aclosing: however the loop ends (error, Stop), the upstream response is closed.
            async with contextlib.aclosing(self._llm.stream_chat(request)) as deltas:
                async for delta in deltas:
                    if delta.text:
                        reply.append(delta.text)  # first: the renderer shows it while we go on
                        if outcome.first_token_at is None:
                            outcome.first_token_at = time.monotonic()
                            if on_first_token is not None:
                                await on_first_token()
                    if delta.finish_reason:
                        outcome.finish_reason = delta.finish_reason
                    if delta.usage is not None:
                        outcome.usage = delta.usage
        except UpstreamError as exc:
            outcome.error = exc
            log.warning(
                "RelayDance failed (%s, status %s): %s", type(exc).__name__, exc.status, exc.detail[:200]
            )
            note = markdown_to_mrkdwn(
                f"⚠️ **Answer cut off:** {exc.user_message}" if reply.text else f"⚠️ {exc.user_message}"
            )
        except asyncio.CancelledError:
            run = self._running.get(outcome.answer_id)
            current = asyncio.current_task()
            if run is None or run.stopped_by is None or current is None:
                await reply.cancel()
                raise
            current.uncancel()  # a Stop, not a shutdown: finish the message as it stands
            outcome.stopped_by = run.stopped_by
            note = f"⏹️ _Stopped by <@{run.stopped_by}>._"
        if outcome.error is None and outcome.stopped_by is None:
            if outcome.finish_reason == "length":
                note = markdown_to_mrkdwn(
                    "⚠️ **Answer cut off:** it reached the configured length limit (MAX_TOKENS)."
                )
            elif not reply.text:
                note = "⚠️ RelayDance returned an empty answer."
        # The stream is over: from here a Stop has nothing to stop, and must not cancel the final
        # edit (the message would keep its Stop button and lose the end of the answer).
        self._running.pop(outcome.answer_id, None)
        outcome.message_ts = await reply.finish(note=note)  # notes are mrkdwn: mentions stay live
        outcome.text = reply.text
        if reply.text and outcome.message_ts:
            # Kept as an assistant turn, so a later question in the thread sees this answer.
            await self._store.record(
                Conversation(reply.team, reply.channel, reply.thread_ts),
                StoredMessage(
                    ts=outcome.message_ts[0],
                    text=reply.text,
                    user=self._identity.user_id,
                    own=True,
                    thread_ts=reply.thread_ts,
                ),
            )
        return config

    # -- building the prompt ---------------------------------------------------------------------

    async def _prompt(self, question: Question, config: Effective) -> list[dict[str, str]]:
        history = await self.history(question.conversation, question.message)
        names = await self.names(question.conversation.team, history)
        turns = [_turn(m, names, self._identity) for m in history]
        return build_messages(
            config.system_prompt,
            [t for t in turns if t.text.strip()],
            budget_tokens=self._settings.history_budget_tokens,
        )

    async def names(self, team: str, history: Sequence[StoredMessage]) -> dict[str, str]:
        people = [u for u in _people(history) if u != self._identity.user_id]
        return await self._names.names(team, people)

    async def history(self, conv: Conversation, asked: StoredMessage | None = None) -> list[StoredMessage]:
        """The conversation (up to `asked`): from Redis, backfilled from Slack at most once."""
        snapshot = await self._store.load(conv)
        messages: Sequence[StoredMessage]
        if snapshot is None:
            messages = await self._from_slack(conv, asked)  # Redis is down: Slack is all we have
        elif not snapshot.known and self._needs_backfill(conv, asked):
            fetched = await self._from_slack(conv, asked)
            # What Redis holds wins, here as in the merge below: e.g. a /ask question is recorded
            # as the asker's words, while Slack shows it as the bot's post.
            recorded = {m.ts for m in snapshot.messages}
            await self._store.record_many(conv, [m for m in fetched if m.ts not in recorded])
            await self._store.mark_backfilled(conv)
            messages = [*fetched, *snapshot.messages]
        else:
            messages = snapshot.messages
        by_ts = {m.ts: m for m in messages}
        if asked is None:
            return sorted(by_ts.values(), key=lambda m: ts_key(m.ts))
        by_ts[asked.ts] = asked
        limit = ts_key(asked.ts)
        return sorted((m for m in by_ts.values() if ts_key(m.ts) <= limit), key=lambda m: ts_key(m.ts))

    @staticmethod
    def _needs_backfill(conv: Conversation, asked: StoredMessage | None) -> bool:
        # A mention that starts a thread has no earlier history; a reply in an older thread or a
        # DM conversation might.
        return asked is None or conv.thread_ts != asked.ts

    async def _from_slack(self, conv: Conversation, asked: StoredMessage | None) -> list[StoredMessage]:
        if conv.thread_ts is None:
            return await fetch_recent(
                self._slack, channel=conv.channel, identity=self._identity, limit=RECENT_DM_MESSAGES
            )
        if asked is not None and conv.thread_ts == asked.ts:
            return [asked]
        return await fetch_thread(
            self._slack,
            channel=conv.channel,
            thread_ts=conv.thread_ts,
            identity=self._identity,
            max_messages=self._settings.history_max_messages,
        )


def _people(history: Sequence[StoredMessage]) -> list[str]:
    """Authors and people mentioned, whose display names the prompt needs."""
    users: list[str] = []
    for message in (m for m in history if not m.own):
        if message.user:
            users.append(message.user)
        users.extend(mentioned_user_ids(message.text))
    return users


def _turn(message: StoredMessage, names: dict[str, str], identity: BotIdentity) -> Turn:
    if message.own:
        return Turn(role="assistant", text=message.text)
    author = names.get(message.user or "", message.user) if message.user else "a bot"
    return Turn(
        role="user",
        text=slack_to_plain(message.text, names=names, bot_user_id=identity.user_id),
        author=author,
    )
