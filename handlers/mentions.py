"""`@bot …` in a channel: answer in the message's thread (starting one if needed)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.slack_history import stored_from_slack
from handlers.events import conversation_of, is_from_bot, start_answer, team_of, thread_question


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
        await deps.store.record(conversation_of(team, channel, event), message)
        await start_answer(
            deps,
            event_id=body.get("event_id"),
            question=thread_question(team, channel, message, in_thread=True),
        )

    app.event("app_mention")(on_app_mention)
