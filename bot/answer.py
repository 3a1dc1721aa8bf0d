"""The one path from a question to a streamed answer, shared by every Slack surface.

Order matters for what the user sees: the placeholder is posted at once while history is
gathered and names resolved in parallel; the request goes to RelayDance only when the prompt is
built; the renderer shows text as it streams. Failures end as a plain sentence in the thread, and
text already streamed is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import UpstreamError
from bot.history import Conversation, HistoryStore, StoredMessage, ts_key
from bot.names import UserDirectory
from bot.prompt import Turn, build_messages
from bot.relaydance import ChatRequest, RelayDanceClient, Usage
from bot.renderer import EditGate, StreamingReply
from bot.settings import Settings
from bot.slack_history import BotIdentity, fetch_recent, fetch_thread
from bot.slack_markup import mentioned_user_ids, slack_to_plain

log = logging.getLogger(__name__)

RECENT_DM_MESSAGES = 50


@dataclass(frozen=True, slots=True)
class Question:
    """A message the bot should answer, and where its conversation lives."""

    conversation: Conversation  # thread (or DM top level) whose history the answer uses
    message: StoredMessage  # the message being answered
    reply_thread_ts: str | None  # thread to post the answer in; None: top level of a DM


@dataclass(slots=True)
class AnswerOutcome:
    message_ts: list[str] = field(default_factory=list)
    text: str = ""
    error: UpstreamError | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    placeholder_at: float | None = None
    first_token_at: float | None = None
    first_visible_at: float | None = None
    edits: int = 0


class Answerer:
    def __init__(
        self,
        *,
        settings: Settings,
        slack: AsyncWebClient,
        llm: RelayDanceClient,
        store: HistoryStore,
        names: UserDirectory,
        gate: EditGate,
        identity: BotIdentity,
    ) -> None:
        self._settings = settings
        self._slack = slack
        self._llm = llm
        self._store = store
        self._names = names
        self._gate = gate
        self._identity = identity

    async def answer(self, question: Question) -> AnswerOutcome:
        conv = question.conversation
        outcome = AnswerOutcome()
        reply = StreamingReply(
            slack=self._slack,
            team=conv.team,
            channel=conv.channel,
            thread_ts=question.reply_thread_ts,
            gate=self._gate,
            interval=self._settings.edit_interval,
        )
        placeholder = asyncio.create_task(reply.start(), name="placeholder")
        try:
            messages_task = asyncio.create_task(self._prompt(question), name="prompt")
            try:
                await placeholder
            except SlackApiError as exc:
                messages_task.cancel()
                log.warning("could not post in %s: %s", conv.channel, exc.response.get("error"))
                return outcome
            outcome.placeholder_at = time.monotonic()
            await self._store.mark_active(conv)
            messages = await messages_task
            await self._stream(messages, reply, outcome)
        finally:
            if not placeholder.done():
                placeholder.cancel()
        return outcome

    async def _stream(
        self, messages: list[dict[str, str]], reply: StreamingReply, outcome: AnswerOutcome
    ) -> None:
        settings = self._settings
        request = ChatRequest(
            model=settings.relaydance_model,
            messages=messages,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
        )
        note = ""
        try:
            # aclosing: however the loop ends (error, cancellation), the upstream response is closed.
            async with contextlib.aclosing(self._llm.stream_chat(request)) as deltas:
                async for delta in deltas:
                    if delta.text:
                        if outcome.first_token_at is None:
                            outcome.first_token_at = time.monotonic()
                        reply.append(delta.text)
                    if delta.finish_reason:
                        outcome.finish_reason = delta.finish_reason
                    if delta.usage is not None:
                        outcome.usage = delta.usage
        except UpstreamError as exc:
            outcome.error = exc
            log.warning(
                "RelayDance failed (%s, status %s): %s", type(exc).__name__, exc.status, exc.detail[:200]
            )
            note = f"⚠️ **Answer cut off:** {exc.user_message}" if reply.text else f"⚠️ {exc.user_message}"
        except asyncio.CancelledError:
            await reply.cancel()
            raise
        if outcome.error is None and outcome.finish_reason == "length":
            note = "⚠️ **Answer cut off:** it reached the configured length limit (MAX_TOKENS)."
        if outcome.error is None and not reply.text:
            note = "⚠️ RelayDance returned an empty answer."
        outcome.message_ts = await reply.finish(note=note)
        outcome.text = reply.text
        outcome.first_visible_at = reply.first_visible_at
        outcome.edits = reply.edits
        if reply.text and outcome.message_ts:
            conv_ts = outcome.message_ts[0]
            await self._store.record(
                self._conversation_of(reply),
                StoredMessage(
                    ts=conv_ts,
                    text=reply.text,
                    user=self._identity.user_id,
                    own=True,
                    thread_ts=reply.thread_ts,
                ),
            )

    def _conversation_of(self, reply: StreamingReply) -> Conversation:
        return Conversation(reply.team, reply.channel, reply.thread_ts)

    # -- building the prompt ---------------------------------------------------------------------

    async def _prompt(self, question: Question) -> list[dict[str, str]]:
        history = await self._history(question)
        names = await self._names.names(question.conversation.team, _people(history))
        turns = [_turn(m, names, self._identity) for m in history]
        return build_messages(
            self._settings.system_prompt,
            [t for t in turns if t.text.strip()],
            budget_tokens=self._settings.history_budget_tokens,
        )

    async def _history(self, question: Question) -> list[StoredMessage]:
        """The conversation up to the question: from Redis, backfilled from Slack at most once."""
        conv = question.conversation
        asked = question.message
        snapshot = await self._store.load(conv)
        messages: Sequence[StoredMessage]
        if snapshot is None:
            messages = await self._from_slack(conv, asked)  # Redis is down: Slack is all we have
        elif not snapshot.known and self._needs_backfill(conv, asked):
            fetched = await self._from_slack(conv, asked)
            await self._store.record_many(conv, fetched)
            await self._store.mark_backfilled(conv)
            messages = [*fetched, *snapshot.messages]
        else:
            messages = snapshot.messages
        by_ts = {m.ts: m for m in messages}
        by_ts[asked.ts] = asked
        limit = ts_key(asked.ts)
        return sorted((m for m in by_ts.values() if ts_key(m.ts) <= limit), key=lambda m: ts_key(m.ts))

    @staticmethod
    def _needs_backfill(conv: Conversation, asked: StoredMessage) -> bool:
        # A mention that starts a thread has no earlier history; a reply in an older thread or a
        # DM conversation might.
        return conv.thread_ts != asked.ts

    async def _from_slack(self, conv: Conversation, asked: StoredMessage) -> list[StoredMessage]:
        if conv.thread_ts is None:
            return await fetch_recent(
                self._slack, channel=conv.channel, identity=self._identity, limit=RECENT_DM_MESSAGES
            )
        if conv.thread_ts == asked.ts:
            return [asked]
        return await fetch_thread(
            self._slack,
            channel=conv.channel,
            thread_ts=conv.thread_ts,
            identity=self._identity,
            max_messages=self._settings.history_max_messages,
        )


def _people(history: Sequence[StoredMessage]) -> list[str]:
    users: list[str] = []
    for message in history:
        if message.user and not message.own:
            users.append(message.user)
        if not message.own:
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
