"""`@bot …` in a channel: answer in the message's thread (starting one if needed)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core import jobs
from bot.core.deps import Deps
from bot.slack.reads import stored_from_slack
from bot.text.slack_markup import slack_to_plain
from handlers.events import claim, conversation_of, is_from_bot, start_answer, team_of, thread_question

# "@bot summarize", "@bot tl;dr", "@bot summary please" in a thread ask for a thread summary.
SUMMARY_REQUEST = re.compile(r"^\s*(summari[sz]e|summary|tl;?dr)\b", re.IGNORECASE)


def register(app: AsyncApp, deps: Deps) -> None:
    async def on_app_mention(body: dict[str, Any], event: dict[str, Any]) -> None:
        channel = str(event.get("channel") or "")
        if not channel or channel.startswith("D"):
            return  # direct messages are answered by the message listener
        if is_from_bot(event) and not deps.settings.answer_other_bots:
            return
        message = stored_from_slack(event, deps.identity)
        if message is None:
            return
        team = team_of(body, event)
        # The message event may not have been recorded yet; recording is idempotent.
        where = conversation_of(team, channel, event)
        if message.thread_ts and SUMMARY_REQUEST.match(
            slack_to_plain(message.text, names={}, bot_user_id=deps.identity.user_id)
        ):
            await deps.store.record(where, message)
            if await claim(deps, body.get("event_id"), team, channel, message.ts):
                jobs.summary(
                    deps, team=team, channel=channel, thread_ts=message.thread_ts, asker=message.user or ""
                )
            return
        await start_answer(
            deps,
            event_id=body.get("event_id"),
            question=thread_question(team, channel, message, in_thread=True),
            record_in=where,
        )

    app.event("app_mention")(on_app_mention)
