"""Every message in conversations the bot is in: record it, apply edits and deletions, and answer
DMs and follow-ups in threads the bot already answered in (no mention needed there).

Edits and deletions only update history; they never trigger an answer, and nor do the bot's own
messages (each streamed edit produces a `message_changed` event).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.deps import Deps
from bot.slack.reads import stored_from_slack
from bot.stores.history import Conversation
from bot.stores.records import effective
from bot.text.slack_markup import mentioned_user_ids
from handlers.events import conversation_of, is_from_bot, start_answer, team_of, thread_question


def register(app: AsyncApp, deps: Deps) -> None:
    identity = deps.identity
    settings = deps.settings

    async def on_changed(team: str, channel: str, event: dict[str, Any]) -> None:
        edited = event.get("message") or {}
        if identity.is_self(edited) or "ts" not in edited:
            return
        await deps.store.edit(
            conversation_of(team, channel, edited), str(edited["ts"]), str(edited.get("text") or "")
        )

    async def on_deleted(team: str, channel: str, event: dict[str, Any]) -> None:
        previous = event.get("previous_message") or {}
        deleted_ts = event.get("deleted_ts") or previous.get("ts")
        if not deleted_ts:
            return
        await deps.store.delete(
            conversation_of(team, channel, previous or {"ts": deleted_ts}), str(deleted_ts)
        )

    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        team = team_of(body, event)
        channel = str(event.get("channel") or "")
        subtype = event.get("subtype")
        if subtype == "message_changed":
            await on_changed(team, channel, event)
            return
        if subtype == "message_deleted":
            await on_deleted(team, channel, event)
            return
        if identity.is_self(event):
            return  # our answers are recorded whole when they finish
        message = stored_from_slack(event, identity)
        if message is None:
            return  # joins, topic changes and other non-content subtypes
        conv = conversation_of(team, channel, event)
        await deps.store.record(conv, message)
        if is_from_bot(event) and not settings.answer_other_bots:
            return
        mentioned = mentioned_user_ids(message.text)
        if identity.user_id in mentioned and not channel.startswith("D"):
            return  # the app_mention listener answers this one
        if event.get("channel_type") == "im" or channel.startswith("D"):
            question = thread_question(team, channel, message, in_thread=message.thread_ts is not None)
        elif message.thread_ts:
            if mentioned:
                return  # talking to someone else in the thread
            if not await deps.store.is_active(Conversation(team, channel, message.thread_ts)):
                return
            if not effective(settings, await deps.records.channel_config(team, channel)).followups:
                return
            question = thread_question(team, channel, message, in_thread=True)
        else:
            return
        await start_answer(deps, event_id=body.get("event_id"), question=question)

    app.event("message")(on_message)
