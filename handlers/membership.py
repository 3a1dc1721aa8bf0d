"""The bot joining a channel: with `KNOWLEDGE_BACKFILL_DAYS`, its past goes into the index.

Slack sends `member_joined_channel` for every member who joins; only the bot's own join matters
here. The backfill runs in the background at Slack's pace; the listener only starts it.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.backfill import Backfiller
from bot.core.tasks import TaskTracker
from bot.slack.identity import Identity
from bot.slack.messages import team_of


def register(app: AsyncApp, *, backfill: Backfiller, identity: Identity, tasks: TaskTracker) -> None:
    async def on_member_joined(body: dict[str, Any], event: dict[str, Any]) -> None:
        channel = event.get("channel")
        if event.get("user") == identity.user_id and isinstance(channel, str) and channel:
            backfill.joined(team_of(body, event), channel)

    app.event("member_joined_channel")(tasks.listener(on_member_joined))
