"""The "Summarize thread" message shortcut: the summary streams into that message's thread, visible
to the channel (the README says so), after checking the bot can read it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.core import jobs
from bot.core.deps import Deps
from bot.slack.access import bot_can_read
from bot.slack.blocks import SHORTCUT_SUMMARIZE


def register(app: AsyncApp, deps: Deps) -> None:
    async def on_summarize(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]) -> None:
        await ack()
        channel = str((body.get("channel") or {}).get("id") or "")
        message = body.get("message") or {}
        user = body["user"]["id"]
        problem = await bot_can_read(deps, channel)
        if problem:
            # Through the payload's response_url: chat.postEphemeral is refused in a channel the
            # bot is not in, which is exactly this case.
            await respond(text=problem, response_type="ephemeral", replace_original=False)
            return
        thread_ts = str(message.get("thread_ts") or message["ts"])
        team = (body.get("team") or {}).get("id") or deps.identity.team_id
        jobs.summary(deps, team=team, channel=channel, thread_ts=thread_ts, asker=user)

    app.shortcut(SHORTCUT_SUMMARIZE)(on_summarize)
