"""`@bot …` in a channel: answer in the message's thread (starting one if needed)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.jobs import Jobs
from bot.core.question import thread_question
from bot.core.tasks import TaskTracker
from bot.model import SummaryReplay
from bot.slack.identity import Identity
from bot.slack.messages import conversation_of, is_from_bot, stored_from_slack, team_of
from bot.stores.history import HistoryStore
from bot.text.slack_markup import slack_to_plain

# "@bot summarize", "@bot tl;dr", "@bot summary please" in a thread ask for a thread summary.
SUMMARY_REQUEST = re.compile(r"^\s*(summari[sz]e|summary|tl;?dr)\b", re.IGNORECASE)


def register(
    app: AsyncApp,
    *,
    jobs: Jobs,
    history: HistoryStore,
    identity: Identity,
    tasks: TaskTracker,
    answer_other_bots: bool,
) -> None:
    async def on_app_mention(body: dict[str, Any], event: dict[str, Any]) -> None:
        channel = str(event.get("channel") or "")
        if not channel or channel.startswith("D"):
            return  # direct messages are answered by the message listener
        if is_from_bot(event) and not answer_other_bots:
            return
        message = stored_from_slack(event, identity)
        if message is None:
            return
        team = team_of(body, event)
        # The message event may not have been recorded yet; recording is idempotent.
        where = conversation_of(team, channel, event)
        if message.thread_ts and SUMMARY_REQUEST.match(
            slack_to_plain(message.text, names={}, bot_user_id=identity.user_id)
        ):
            await history.record(where, message)
            if await jobs.claim(team, channel, message.ts, event_id=body.get("event_id")):
                replay = SummaryReplay(channel, message.thread_ts, channel, message.thread_ts)
                jobs.summary(replay, team=team, asker=message.user or "")
            return
        await jobs.answer_message(
            thread_question(team, channel, message, in_thread=True, action_token=event.get("action_token")),
            event_id=body.get("event_id"),
            record_in=where,
        )

    app.event("app_mention")(tasks.listener(on_app_mention))
