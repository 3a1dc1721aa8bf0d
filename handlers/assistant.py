"""Slack's AI app pane, through Bolt's `Assistant` middleware.

A new thread gets suggested prompts (ask; recap the channel the user is viewing; summarize a
thread by its link). User messages are answered with the same streaming path and thread history;
the status shows "thinking…" until the first token, and the first question becomes the title.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import (
    AsyncApp,
    AsyncAssistant,
    AsyncSay,
    AsyncSetStatus,
    AsyncSetSuggestedPrompts,
    AsyncSetTitle,
)
from slack_bolt.context.get_thread_context.async_get_thread_context import AsyncGetThreadContext
from slack_sdk.errors import SlackApiError

from bot.core.jobs import Jobs
from bot.core.question import Question
from bot.core.tasks import TaskTracker
from bot.model import Conversation, RecapReplay, SummaryReplay
from bot.slack.access import Access
from bot.slack.identity import BotIdentity
from bot.slack.messages import stored_from_slack
from bot.stores.history import HistoryStore
from bot.text.user_input import parse_message_link, same_workspace

log = logging.getLogger(__name__)

RECAP = re.compile(r"^\s*recap\b.*?<#(?P<channel>[CG][A-Z0-9]+)(?:\|[^>]*)?>", re.IGNORECASE | re.DOTALL)
LINK = re.compile(r"https://[^\s>|]+/archives/[^\s>|]+")


def suggested_prompts(viewing_channel: str | None) -> list[dict[str, str]]:
    prompts = [{"title": "Ask a question", "message": "What can you help me with?"}]
    if viewing_channel:
        prompts.append(
            {"title": "Recap this channel", "message": f"Recap <#{viewing_channel}> for the last 24 hours"}
        )
    prompts.append(
        {"title": "Summarize a thread", "message": "Summarize this thread: (paste the message link)"}
    )
    return prompts


async def decoration(call: Awaitable[object], what: str) -> None:
    """Await a status or title call: decoration, so one Slack refuses must not cost the answer."""
    try:
        await call
    except SlackApiError as exc:
        log.info("%s failed: %s", what, exc.response.get("error"))


def register(
    app: AsyncApp,
    *,
    jobs: Jobs,
    access: Access,
    history: HistoryStore,
    identity: BotIdentity,
    tasks: TaskTracker,
) -> None:
    assistant = AsyncAssistant()

    async def started(
        set_suggested_prompts: AsyncSetSuggestedPrompts, get_thread_context: AsyncGetThreadContext
    ) -> None:
        context = await get_thread_context()
        channel = context.channel_id if context is not None else None
        await set_suggested_prompts(prompts=suggested_prompts(channel), title="Try one of these:")

    async def user_message(
        body: dict[str, Any],
        payload: dict[str, Any],
        say: AsyncSay,
        set_status: AsyncSetStatus,
        set_title: AsyncSetTitle,
    ) -> None:
        team = str(body.get("team_id") or identity.team_id)
        channel, thread_ts = str(payload["channel"]), str(payload["thread_ts"])
        user = str(payload.get("user") or "")
        text = str(payload.get("text") or "")
        message = stored_from_slack(payload, identity)
        if message is None:
            return
        conv = Conversation(team, channel, thread_ts)
        if not await jobs.claim(team, channel, message.ts):
            return
        # The message was recorded before it was acknowledged (see handlers/messages.py).
        recorded = await history.load(conv)
        if recorded is not None and not any(m.user == user and m.ts != message.ts for m in recorded.messages):
            await decoration(set_title(text[:60] or "Question"), "assistant.threads.setTitle")
        recap = RECAP.match(text)
        link = LINK.search(text)
        if recap is not None:
            target = recap.group("channel")
            problem = await access.refusal(target, user, doing="recap")
            if problem:
                await say(problem)
                return
            await decoration(set_status("recapping the channel…"), "assistant.threads.setStatus")
            jobs.recap(RecapReplay(target, "24h", channel, thread_ts), team=team, asker=user)
            return
        if link is not None and "summar" in text.lower():
            try:
                target_link = parse_message_link(link.group(0))
            except ValueError as exc:
                await say(str(exc))
                return
            if identity.url and not same_workspace(target_link, identity.url):
                await say("That link points to another workspace; I can only summarize threads in this one.")
                return
            problem = await access.refusal(target_link.channel, user, doing="summarize")
            if problem:
                await say(problem)
                return
            await decoration(set_status("reading the thread…"), "assistant.threads.setStatus")
            replay = SummaryReplay(target_link.channel, target_link.root_ts, channel, thread_ts)
            jobs.summary(replay, team=team, asker=user)
            return
        await decoration(
            set_status("thinking…", loading_messages=["Thinking…", "Reading the thread…"]),
            "assistant.threads.setStatus",
        )

        async def clear_status() -> None:
            await decoration(set_status(""), "assistant.threads.setStatus")

        question = Question(conv, message, reply_thread_ts=thread_ts, asker=user)
        jobs.chat(question, on_first_token=clear_status)

    assistant.thread_started(tasks.listener(started))
    assistant.user_message(tasks.listener(user_message))
    app.assistant(assistant)
