"""The app's own life in a workspace: uninstalled, or its tokens revoked (no scope needed).

With OAuth installs the workspace's installation is forgotten, so Bolt's `authorize` no longer
finds it and nothing more is sent with a token Slack has revoked. With one workspace
(SLACK_BOT_TOKEN) there is nothing stored to forget; the event is only logged.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.core.tasks import TaskTracker
from bot.core.workspaces import Where, Workspaces

log = logging.getLogger(__name__)


def register(app: AsyncApp, *, workspaces: Workspaces | None, tasks: TaskTracker) -> None:
    def where(context: AsyncBoltContext) -> Where:
        return Where(
            enterprise_id=context.enterprise_id,
            team_id=context.team_id,
            is_enterprise_install=bool(context.is_enterprise_install),
        )

    async def on_app_uninstalled(context: AsyncBoltContext) -> None:
        if workspaces is None:
            log.warning("the app was uninstalled from workspace %s", context.team_id)
            return
        await workspaces.uninstalled(where(context))

    async def on_tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        raw = event.get("tokens")
        tokens: dict[str, Any] = raw if isinstance(raw, dict) else {}
        bots = [u for u in tokens.get("bot") or () if isinstance(u, str)]
        people = [u for u in tokens.get("oauth") or () if isinstance(u, str)]
        if workspaces is None:
            log.warning("tokens were revoked in workspace %s (bot: %d)", context.team_id, len(bots))
            return
        if people:
            await workspaces.user_tokens_revoked(where(context), people)
        if bots:
            # The bot token is what every call uses: without it the workspace is as good as gone.
            await workspaces.uninstalled(where(context))

    app.event("app_uninstalled")(tasks.listener(on_app_uninstalled))
    app.event("tokens_revoked")(tasks.listener(on_tokens_revoked))
