"""The "Summarize thread" message shortcut: the summary streams into that message's thread, visible
to the channel (the README says so), after checking the bot can read it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.core.jobs import Jobs
from bot.core.tasks import TaskTracker
from bot.model import SummaryReplay
from bot.slack.access import Access
from bot.slack.blocks import SHORTCUT_SUMMARIZE
from bot.slack.identity import Identity


def register(app: AsyncApp, *, jobs: Jobs, access: Access, identity: Identity, tasks: TaskTracker) -> None:
    async def on_summarize(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]) -> None:
        await ack()
        channel = str((body.get("channel") or {}).get("id") or "")
        message = body.get("message") or {}
        user = body["user"]["id"]
        problem = await access.refusal(channel, user, doing="summarize")
        if problem:
            # Through the payload's response_url: chat.postEphemeral is refused in a channel the
            # bot is not in, which is exactly this case.
            await respond(text=problem, response_type="ephemeral", replace_original=False)
            return
        thread_ts = str(message.get("thread_ts") or message["ts"])
        team = (body.get("team") or {}).get("id") or identity.team_id
        jobs.summary(SummaryReplay(channel, thread_ts, channel, thread_ts), team=team, asker=user)

    app.shortcut(SHORTCUT_SUMMARIZE)(tasks.listener(on_summarize))
