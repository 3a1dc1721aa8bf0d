"""App Home: what the bot does and how to reach it, the user's usage and feedback counts, and the
channel settings the user may edit. Opening the Messages tab (the agent experience's DM) pins the
suggested prompts there instead (handlers/assistant.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.tasks import TaskTracker
from bot.slack.access import Access
from bot.slack.identity import Identity
from bot.slack.views import home_view
from bot.stores.channel_settings import ChannelSettings
from bot.stores.feedback import Feedback
from bot.stores.usage import UsageLedger
from handlers.assistant import Pane


def register(
    app: AsyncApp,
    *,
    slack: AsyncWebClient,
    usage: UsageLedger,
    feedback: Feedback,
    channels: ChannelSettings,
    access: Access,
    identity: Identity,
    model: str,
    pane: Pane,
    tasks: TaskTracker,
) -> None:
    async def on_home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
        user = str(event["user"])
        team = str(body.get("team_id") or identity.team_id)
        if event.get("tab") == "messages":
            if isinstance(event.get("channel"), str):
                await pane.opened(team, user, event["channel"])
            return
        if event.get("tab") not in (None, "home"):
            return
        editable = await channels.configured_channels(team) if await access.may_change_settings(user) else []
        view = home_view(
            usage=await usage.get(team, user),
            feedback=await feedback.counts(team),
            editable_channels=editable,
            model=model,
        )
        await slack.views_publish(user_id=user, view=view)

    app.event("app_home_opened")(tasks.listener(on_home_opened))
