"""Slash commands: /ask, /summarize <message link>, /recap [since], /relaydance settings.

Bad input, and a channel or person the bot is not enabled for, is answered in the command's
ephemeral acknowledgement and nothing else happens.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.jobs import Jobs
from bot.core.tasks import TaskTracker
from bot.model import AskReplay, Conversation, RecapReplay, StoredMessage, SummaryReplay
from bot.slack.access import Access
from bot.slack.identity import Identity
from bot.slack.users import UserDirectory
from bot.stores.history import HistoryStore
from bot.text.user_input import parse_duration, parse_message_link, same_workspace
from handlers.settings_modal import SettingsModal

log = logging.getLogger(__name__)


def register(
    app: AsyncApp,
    *,
    slack: AsyncWebClient,
    jobs: Jobs,
    access: Access,
    history: HistoryStore,
    users: UserDirectory,
    identity: Identity,
    settings_modal: SettingsModal,
    tasks: TaskTracker,
) -> None:
    async def ask(ack: AsyncAck, command: dict[str, Any]) -> None:
        text = str(command.get("text") or "").strip()
        if not text:
            await ack("Ask a question after the command, e.g. `/ask how do I rotate our API keys?`")
            return
        channel, user, team = command["channel_id"], command["user_id"], command["team_id"]
        problem = await access.refusal(channel, user, doing="read")
        if problem:
            await ack(problem)
            return
        await ack()
        try:
            posted = await slack.chat_postMessage(channel=channel, text=f"<@{user}> asked: {text}")
        except SlackApiError as exc:
            log.warning("/ask could not post in %s: %s", channel, exc.response.get("error"))
            return
        # The posted question is the bot's own message; record it as the asker's words so the
        # thread's history reads right for follow-ups.
        question_ts = str(posted["ts"])
        await history.record(
            Conversation(team, channel, None), StoredMessage(ts=question_ts, text=text, user=user)
        )
        names = await users.names(team, [user])
        replay = AskReplay(question_ts=question_ts, text=text, asker_name=names.get(user, user))
        jobs.ask(replay, team=team, channel=channel, asker=user)

    async def summarize(ack: AsyncAck, command: dict[str, Any]) -> None:
        text = str(command.get("text") or "").strip()
        try:
            link = parse_message_link(text)
        except ValueError as exc:
            await ack(str(exc))
            return
        if identity.url and not same_workspace(link, identity.url):
            await ack("That link points to another workspace; I can only summarize threads in this one.")
            return
        user = command["user_id"]
        problem = await access.refusal(link.channel, user, doing="summarize")
        if problem:
            await ack(problem)
            return
        await ack("Summarizing that thread; the summary will appear in it.")
        replay = SummaryReplay(link.channel, link.root_ts, link.channel, link.root_ts)
        jobs.summary(replay, team=command["team_id"], asker=user)

    async def recap(ack: AsyncAck, command: dict[str, Any]) -> None:
        since = str(command.get("text") or "").strip()
        try:
            parse_duration(since)
        except ValueError as exc:
            await ack(str(exc))
            return
        channel = command["channel_id"]
        problem = await access.refusal(channel, command["user_id"], doing="recap")
        if problem:
            await ack(problem)
            return
        await ack()
        replay = RecapReplay(
            channel=channel, since=since or "24h", reply_channel=channel, reply_thread_ts=None
        )
        jobs.recap(replay, team=command["team_id"], asker=command["user_id"])

    async def relaydance(ack: AsyncAck, command: dict[str, Any]) -> None:
        words = str(command.get("text") or "").split()
        if words[:1] != ["settings"]:
            await ack("Try `/relaydance settings` to change how I answer in this channel.")
            return
        user, channel = command["user_id"], command["channel_id"]
        problem = access.not_enabled(channel, user)
        if problem:
            await ack(problem)
            return
        if not await access.may_change_settings(user):
            await ack("Only workspace admins and the bot's admins can change channel settings.")
            return
        await ack()
        await settings_modal.open(trigger_id=command["trigger_id"], team=command["team_id"], channel=channel)

    app.command("/ask")(tasks.listener(ask))
    app.command("/summarize")(tasks.listener(summarize))
    app.command("/recap")(tasks.listener(recap))
    app.command("/relaydance")(tasks.listener(relaydance))
