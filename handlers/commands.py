"""Slash commands: /ask, /summarize <message link>, /recap [since], /relaydance settings.

Bad input is answered in the command's ephemeral acknowledgement and nothing else happens.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.core import jobs
from bot.core.deps import Deps
from bot.slack.access import bot_can_read, may_change_settings, refusal
from bot.stores.history import Conversation, StoredMessage
from bot.text.summary_prompts import parse_duration, parse_message_link, same_workspace
from handlers.settings_modal import open_settings

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    async def ask(ack: AsyncAck, command: dict[str, Any]) -> None:
        text = str(command.get("text") or "").strip()
        if not text:
            await ack("Ask a question after the command, e.g. `/ask how do I rotate our API keys?`")
            return
        channel, user, team = command["channel_id"], command["user_id"], command["team_id"]
        problem = await bot_can_read(deps, channel)
        if problem:
            await ack(problem)
            return
        await ack()
        try:
            posted = await deps.slack.chat_postMessage(channel=channel, text=f"<@{user}> asked: {text}")
        except SlackApiError as exc:
            log.warning("/ask could not post in %s: %s", channel, exc.response.get("error"))
            return
        # The posted question is the bot's own message; record it as the asker's words so the
        # thread's history reads right for follow-ups.
        await deps.store.record(
            Conversation(team, channel, None), StoredMessage(ts=str(posted["ts"]), text=text, user=user)
        )
        names = await deps.names.names(team, [user])
        jobs.ask(
            deps,
            team=team,
            channel=channel,
            question_ts=str(posted["ts"]),
            text=text,
            asker=user,
            asker_name=names.get(user, user),
        )

    async def summarize(ack: AsyncAck, command: dict[str, Any]) -> None:
        text = str(command.get("text") or "").strip()
        try:
            link = parse_message_link(text)
        except ValueError as exc:
            await ack(str(exc))
            return
        if deps.identity.url and not same_workspace(link, deps.identity.url):
            await ack("That link points to another workspace; I can only summarize threads in this one.")
            return
        user = command["user_id"]
        problem = await refusal(deps, link.channel, user, doing="summarize")
        if problem:
            await ack(problem)
            return
        await ack("Summarizing that thread; the summary will appear in it.")
        jobs.summary(
            deps,
            team=command["team_id"],
            channel=link.channel,
            thread_ts=link.root_ts,
            asker=user,
        )

    async def recap(ack: AsyncAck, command: dict[str, Any]) -> None:
        since = str(command.get("text") or "").strip()
        try:
            parse_duration(since)
        except ValueError as exc:
            await ack(str(exc))
            return
        channel = command["channel_id"]
        problem = await bot_can_read(deps, channel)
        if problem:
            await ack(problem)
            return
        await ack()
        jobs.recap(
            deps, team=command["team_id"], channel=channel, since=since or "24h", asker=command["user_id"]
        )

    async def relaydance(ack: AsyncAck, command: dict[str, Any]) -> None:
        words = str(command.get("text") or "").split()
        if words[:1] != ["settings"]:
            await ack("Try `/relaydance settings` to change how I answer in this channel.")
            return
        user, channel = command["user_id"], command["channel_id"]
        if not await may_change_settings(deps, user):
            await ack("Only workspace admins and the bot's admins can change channel settings.")
            return
        await ack()
        await open_settings(deps, trigger_id=command["trigger_id"], team=command["team_id"], channel=channel)

    app.command("/ask")(ask)
    app.command("/summarize")(summarize)
    app.command("/recap")(recap)
    app.command("/relaydance")(relaydance)
