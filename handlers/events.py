"""Shared event plumbing: turning Slack message payloads into our types, and starting an answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.answerer import Question
from bot.core.deps import Deps
from bot.slack.reads import stored_from_slack
from bot.stores.history import Conversation, StoredMessage


def team_of(body: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    return str(body.get("team_id") or event.get("team") or "")


def conversation_of(team: str, channel: str, message: Mapping[str, Any]) -> Conversation:
    """A reply lives in its thread; a top-level message lives in the channel's top level."""
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != message.get("ts"):
        return Conversation(team, channel, str(thread_ts))
    return Conversation(team, channel, None)


def is_from_bot(event: Mapping[str, Any]) -> bool:
    return bool(event.get("bot_id")) or event.get("subtype") == "bot_message"


async def claim(deps: Deps, event_id: str | None, team: str, channel: str, ts: str) -> bool:
    """True once per event and per message (Slack may deliver either twice)."""
    keys = [f"answer:{team}:{channel}:{ts}"]
    if event_id is not None:
        keys.insert(0, event_id)
    return await deps.store.claim(*keys)


async def start_answer(
    deps: Deps, *, event_id: str | None, question: Question, record_in: Conversation | None = None
) -> bool:
    """Claim the event and the message and answer in the background.

    With `record_in`, the question is recorded in the background task, not in the listener.
    """
    conv = question.conversation
    if not await claim(deps, event_id, conv.team, conv.channel, question.message.ts):
        return False
    deps.tasks.spawn(_answer(deps, question, record_in), name=f"answer:{conv.channel}:{question.message.ts}")
    return True


async def _answer(deps: Deps, question: Question, record_in: Conversation | None) -> None:
    await deps.answerer.answer(question, record_in=record_in)


def thread_question(team: str, channel: str, message: StoredMessage, *, in_thread: bool) -> Question:
    """A question whose answer goes in a thread: the message's thread, or one rooted at it."""
    if in_thread:
        root = message.thread_ts or message.ts
        return Question(Conversation(team, channel, root), message, reply_thread_ts=root)
    return Question(Conversation(team, channel, None), message, reply_thread_ts=message.thread_ts)


__all__ = [
    "conversation_of",
    "is_from_bot",
    "start_answer",
    "stored_from_slack",
    "team_of",
    "thread_question",
]
