"""App Home: what the bot does and how to reach it, the user's usage and feedback counts, and the
channel settings the user may edit."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.deps import Deps
from bot.slack.access import may_change_settings
from bot.slack.blocks import home_view


def register(app: AsyncApp, deps: Deps) -> None:
    async def on_home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab") not in (None, "home"):
            return
        user = str(event["user"])
        team = str(body.get("team_id") or deps.identity.team_id)
        usage = await deps.records.usage(team, user)
        feedback = await deps.records.feedback_counts(team)
        channels = (
            await deps.records.configured_channels(team) if await may_change_settings(deps, user) else []
        )
        view = home_view(
            usage=usage, feedback=feedback, editable_channels=channels, model=deps.settings.relaydance_model
        )
        await deps.slack.views_publish(user_id=user, view=view)

    app.event("app_home_opened")(on_home_opened)
