"""Every message in conversations the bot is in: recorded before it is acknowledged, then answered
when it is a DM or a follow-up in a thread the bot already answered in (no mention needed there).

Recording runs as app middleware, ahead of Bolt's acknowledgement and of the Assistant middleware:
once Slack has the ack for a message, it is in Redis, so a summary asked for right after it sees it;
and edits and deletions in assistant DM threads (which that middleware acknowledges and drops) are
applied too. Edits and deletions only update history; they never trigger an answer, and nor do the
bot's own messages (each streamed edit produces a `message_changed` event).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.core.jobs import Jobs
from bot.core.question import thread_question
from bot.core.tasks import TaskTracker
from bot.model import Conversation
from bot.slack.identity import Identity
from bot.slack.messages import conversation_of, is_from_bot, stored_from_slack, team_of
from bot.slack.middleware import Next, Plain
from bot.stores.channel_settings import ChannelSettings
from bot.stores.history import HistoryStore
from bot.stores.index import KnowledgeIndex
from bot.stores.threads import ActiveThreads
from bot.text.clean import clean_text
from bot.text.slack_content import file_refs, visible_text
from bot.text.slack_markup import mentioned_user_ids


def register(
    app: AsyncApp,
    *,
    history: HistoryStore,
    index: KnowledgeIndex,
    threads: ActiveThreads,
    channels: ChannelSettings,
    jobs: Jobs,
    identity: Identity,
    tasks: TaskTracker,
    answer_other_bots: bool,
    answer_dm: Callable[[str, str, dict[str, Any]], Awaitable[None]],
) -> None:
    async def record(team: str, channel: str, event: dict[str, Any]) -> None:
        subtype = event.get("subtype")
        if subtype == "message_changed":
            edited = event.get("message") or {}
            if isinstance(edited, dict) and "ts" in edited and not identity.is_self(edited):
                # The whole edited message: an edit keeps its files and attachments.
                text = clean_text(visible_text(edited))
                where = conversation_of(team, channel, edited)
                await history.edit(where, str(edited["ts"]), text, file_refs(edited))
                await index.edit(where, str(edited["ts"]), text)
            return
        if subtype == "message_deleted":
            previous = event.get("previous_message") or {}
            deleted_ts = event.get("deleted_ts") or previous.get("ts")
            if deleted_ts:
                where = conversation_of(team, channel, previous or {"ts": deleted_ts})
                await history.delete(where, str(deleted_ts))
                await index.remove(where, str(deleted_ts))
            return
        if identity.is_self(event):
            return  # our answers are recorded whole when they finish
        message = stored_from_slack(event, identity)
        if message is not None:
            await history.record(conversation_of(team, channel, event), message)
            await index.index_message(conversation_of(team, channel, event), message)

    async def record_first(req: AsyncBoltRequest, next: Next) -> None:  # noqa: A002
        body = req.body
        event = body.get("event") if body.get("type") == "event_callback" else None
        if isinstance(event, dict) and event.get("type") == "message" and event.get("channel"):
            await record(team_of(body, event), str(event["channel"]), event)
        await next()

    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        team = team_of(body, event)
        channel = str(event.get("channel") or "")
        if event.get("subtype") in ("message_changed", "message_deleted") or identity.is_self(event):
            return
        message = stored_from_slack(event, identity)
        if message is None:
            return  # joins, topic changes and other non-content subtypes
        if is_from_bot(event) and not answer_other_bots:
            return
        mentioned = mentioned_user_ids(message.text)
        if identity.user_id in mentioned and not channel.startswith("D"):
            return  # the app_mention listener answers this one
        if event.get("channel_type") == "im" or channel.startswith("D"):
            # The DM is the agent's Messages tab: each top-level message starts a thread.
            await answer_dm(team, channel, event)
            return
        if message.thread_ts:
            if mentioned:
                return  # talking to someone else in the thread
            if not await threads.is_active(Conversation(team, channel, message.thread_ts)):
                return
            if not (await channels.effective(team, channel)).followups:
                return
            question = thread_question(
                team, channel, message, in_thread=True, action_token=event.get("action_token")
            )
        else:
            return
        await jobs.answer_message(question, event_id=body.get("event_id"))

    app.use(Plain(record_first))
    app.event("message")(tasks.listener(on_message))
