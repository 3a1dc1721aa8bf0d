"""The bot's DM as an AI app: Slack's agent experience (`agent_view`) and the older assistant pane.

Agent experience (what the manifests declare): the conversation lives in the app's Messages tab.
Opening it arrives as `app_home_opened` with `tab == "messages"` (see handlers/home.py), which
pins the suggested prompts to the top of the tab (no `thread_ts`); a message typed there starts a
thread, answered in that thread; `app_context_changed` says what the user is looking at, which the
"recap the channel I'm viewing" prompt uses.

Assistant pane (apps still on `assistant_view`): Bolt's `Assistant` middleware delivers
`assistant_thread_started` (prompts for that thread) and the messages of the pane's threads.

Either way a DM message is answered the same way: a recap or a thread summary when asked for one
(after the access check), else a chat answer with the thread's history; a "thinking…" status
until the first token, and the first question as the thread's title.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.jobs import Jobs
from bot.core.question import Question
from bot.core.tasks import TaskTracker
from bot.model import Conversation, RecapReplay, StoredMessage, SummaryReplay
from bot.slack.access import Access
from bot.slack.identity import Identity
from bot.slack.messages import stored_from_slack
from bot.slack.middleware import AssistantEvents
from bot.stores.cache import ValueCache
from bot.stores.history import HistoryStore
from bot.text.user_input import parse_message_link, same_workspace

log = logging.getLogger(__name__)

RECAP = re.compile(r"^\s*recap\b.*?<#(?P<channel>[CG][A-Z0-9]+)(?:\|[^>]*)?>", re.IGNORECASE | re.DOTALL)
RECAP_VIEWING = re.compile(r"^\s*recap\b.*\b(?:I'?m|I am)\s+viewing\b", re.IGNORECASE | re.DOTALL)
LINK = re.compile(r"https://[^\s>|]+/archives/[^\s>|]+")
PROMPTS_TITLE = "Try one of these:"
VIEWING_TTL = 24 * 3600  # what someone was looking at, remembered for a day
CHANNEL_ENTITY = "slack#/types/channel_id"

# The prompts that need no context; the manifests list exactly these (tests/test_manifest.py).
STATIC_PROMPTS = (
    {"title": "Ask a question", "message": "What can you help me with?"},
    {"title": "Recap this channel", "message": "Recap the channel I'm viewing for the last 24 hours"},
    {"title": "Summarize a thread", "message": "Summarize this thread: (paste the message link)"},
)


def suggested_prompts(viewing_channel: str | None) -> list[dict[str, str]]:
    """The static prompts, with the recap naming the channel when we know which one is in view."""
    prompts = [dict(p) for p in STATIC_PROMPTS]
    if viewing_channel:
        prompts[1] = {
            "title": "Recap this channel",
            "message": f"Recap <#{viewing_channel}> for the last 24 hours",
        }
    return prompts


def viewed_channel(context: Any) -> str | None:
    """The most relevant channel of an `app_context_changed` context (entities come by relevance)."""
    entities = context.get("entities") if isinstance(context, dict) else None
    for entity in entities if isinstance(entities, list) else ():
        if not isinstance(entity, dict):
            continue
        value = entity.get("value")
        if entity.get("type") == CHANNEL_ENTITY and isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("channel_id"), str):
            return str(value["channel_id"])  # slack#/types/message_context
    return None


async def decoration(call: Awaitable[object], what: str) -> None:
    """Await a status, title or prompts call: decoration, so one Slack refuses must not cost the answer."""
    try:
        await call
    except SlackApiError as exc:
        log.info("%s failed: %s", what, exc.response.get("error"))


class Pane:
    """Answers what people write to the bot in its DM, in the agent or the assistant experience."""

    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        jobs: Jobs,
        access: Access,
        history: HistoryStore,
        identity: Identity,
        cache: ValueCache,
    ) -> None:
        self._slack = slack
        self._jobs = jobs
        self._access = access
        self._history = history
        self._identity = identity
        self._cache = cache

    # -- what the user looks at ----------------------------------------------------------------

    async def viewing(self, team: str, user: str) -> str | None:
        return await self._cache.get(f"viewing:{team or self._identity.team_id}:{user}")

    async def remember_viewing(self, team: str, user: str, channel: str) -> None:
        await self._cache.put(f"viewing:{team or self._identity.team_id}:{user}", channel, ttl=VIEWING_TTL)

    async def opened(self, team: str, user: str, channel: str) -> None:
        """The Messages tab opened (agent experience): pin the prompts to its top."""
        await self._cache.put(f"dm:{team}:{user}", channel, ttl=VIEWING_TTL)
        await self._offer(channel, await self.viewing(team, user))

    async def context_changed(self, team: str, user: str, dm: str | None, context: Any) -> None:
        """The user looks at something else: remember the channel and refresh the prompts."""
        channel = viewed_channel(context)
        if channel is None:
            return
        await self.remember_viewing(team, user, channel)
        dm = dm or await self._cache.get(f"dm:{team}:{user}")
        if dm:
            await self._offer(dm, channel)

    async def _offer(self, dm: str, viewing: str | None, thread_ts: str | None = None) -> None:
        await decoration(
            self._slack.assistant_threads_setSuggestedPrompts(
                channel_id=dm, thread_ts=thread_ts, prompts=suggested_prompts(viewing), title=PROMPTS_TITLE
            ),
            "assistant.threads.setSuggestedPrompts",
        )

    async def thread_started(self, channel: str, thread_ts: str, viewing: str | None) -> None:
        """An assistant pane thread opened (assistant experience): prompts for that thread."""
        await self._offer(channel, viewing, thread_ts)

    # -- answering -----------------------------------------------------------------------------

    async def answer(self, team: str, channel: str, payload: dict[str, Any], viewing: str | None) -> None:
        """A person's DM message: answered in its thread (a top-level message starts one)."""
        message = stored_from_slack(payload, self._identity)
        if message is None:
            return
        team = team or self._identity.team_id
        user = message.user or ""
        thread_ts = message.thread_ts or message.ts
        if not await self._jobs.claim(team, channel, message.ts):
            return
        refused = self._access.not_enabled(channel, user)
        if refused:
            await self._say(channel, thread_ts, refused)
            return
        conv = Conversation(team, channel, thread_ts)
        if message.thread_ts is None:
            # The thread is new: its history starts with this message (recorded at the DM's top level).
            await self._history.record(conv, message)
        await self._title_if_first(conv, message)
        text = str(payload.get("text") or "")
        if RECAP_VIEWING.match(text) and not RECAP.match(text):
            viewing = viewing or await self.viewing(team, user)
            if viewing is None:
                await self._say(
                    channel, thread_ts, "Open the channel you want recapped, or name it: `recap #channel`."
                )
                return
            text = f"Recap <#{viewing}>"
        if await self._special(team, channel, thread_ts, user, text):
            return
        await self._status(channel, thread_ts, "thinking…", ["Thinking…", "Reading the thread…"])

        async def clear_status() -> None:
            await self._status(channel, thread_ts, "")

        token = payload.get("action_token")
        question = Question(
            conv, message, reply_thread_ts=thread_ts, asker=user, action_token=str(token) if token else None
        )
        self._jobs.chat(question, on_first_token=clear_status)

    async def _special(self, team: str, channel: str, thread_ts: str, user: str, text: str) -> bool:
        """A recap or a thread summary asked for in words; True when handled (or refused)."""
        recap = RECAP.match(text)
        if recap is not None:
            target = recap.group("channel")
            problem = await self._access.refusal(target, user, doing="recap")
            if problem:
                await self._say(channel, thread_ts, problem)
                return True
            await self._status(channel, thread_ts, "recapping the channel…")
            self._jobs.recap(RecapReplay(target, "24h", channel, thread_ts), team=team, asker=user)
            return True
        link = LINK.search(text)
        if link is None or "summar" not in text.lower():
            return False
        try:
            target_link = parse_message_link(link.group(0))
        except ValueError as exc:
            await self._say(channel, thread_ts, str(exc))
            return True
        if self._identity.url and not same_workspace(target_link, self._identity.url):
            await self._say(
                channel,
                thread_ts,
                "That link points to another workspace; I can only summarize threads in this one.",
            )
            return True
        problem = await self._access.refusal(target_link.channel, user, doing="summarize")
        if problem:
            await self._say(channel, thread_ts, problem)
            return True
        await self._status(channel, thread_ts, "reading the thread…")
        replay = SummaryReplay(target_link.channel, target_link.root_ts, channel, thread_ts)
        self._jobs.summary(replay, team=team, asker=user)
        return True

    async def _title_if_first(self, conv: Conversation, message: StoredMessage) -> None:
        """The thread's first question becomes its title (recorded before it was acknowledged)."""
        recorded = await self._history.load(conv)
        if recorded is None or any(m.user == message.user and m.ts != message.ts for m in recorded.messages):
            return
        title = message.text[:60] or "Question"
        await decoration(
            self._slack.assistant_threads_setTitle(
                channel_id=conv.channel, thread_ts=conv.thread_ts or message.ts, title=title
            ),
            "assistant.threads.setTitle",
        )

    async def _status(
        self, channel: str, thread_ts: str, status: str, loading: list[str] | None = None
    ) -> None:
        await decoration(
            self._slack.assistant_threads_setStatus(
                channel_id=channel, thread_ts=thread_ts, status=status, loading_messages=loading
            ),
            "assistant.threads.setStatus",
        )

    async def _say(self, channel: str, thread_ts: str, text: str) -> None:
        try:
            await self._slack.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        except SlackApiError as exc:
            log.warning("could not answer in %s: %s", channel, exc.response.get("error"))


def register(app: AsyncApp, *, pane: Pane, tasks: TaskTracker) -> None:
    """The assistant pane's events through Bolt's middleware, and the agent experience's context.

    What the user is viewing is kept by `Pane` (Redis), from the pane's thread events or from
    `app_context_changed`: Bolt's own thread context store would read `conversations.replies` for
    every message and rewrite the bot's first reply to save it."""
    assistant = AsyncAssistant()

    async def started(body: dict[str, Any], payload: dict[str, Any]) -> None:
        thread = payload.get("assistant_thread") or {}
        context = thread.get("context") or {}
        viewing = context.get("channel_id") if isinstance(context.get("channel_id"), str) else None
        team, user = str(body.get("team_id") or ""), str(thread.get("user_id") or "")
        if viewing and user:
            await pane.remember_viewing(team, user, viewing)
        await pane.thread_started(str(thread.get("channel_id")), str(thread.get("thread_ts")), viewing)

    async def thread_context_changed(body: dict[str, Any], payload: dict[str, Any]) -> None:
        thread = payload.get("assistant_thread") or {}
        viewing = (thread.get("context") or {}).get("channel_id")
        user = thread.get("user_id")
        if isinstance(viewing, str) and isinstance(user, str):
            await pane.remember_viewing(str(body.get("team_id") or ""), user, viewing)

    async def user_message(body: dict[str, Any], payload: dict[str, Any]) -> None:
        await pane.answer(str(body.get("team_id") or ""), str(payload["channel"]), payload, None)

    async def context_changed(body: dict[str, Any], event: dict[str, Any]) -> None:
        user = event.get("user") or next(
            (a.get("user_id") for a in body.get("authorizations") or () if not a.get("is_bot")), None
        )
        if not isinstance(user, str):
            return
        dm = event.get("channel") if isinstance(event.get("channel"), str) else None
        await pane.context_changed(str(body.get("team_id") or ""), user, dm, event.get("context"))

    assistant.thread_started(tasks.listener(started))
    assistant.thread_context_changed(tasks.listener(thread_context_changed))
    assistant.user_message(tasks.listener(user_message))
    app.use(AssistantEvents(assistant))  # Bolt's `app.assistant`, skipped for what it cannot match
    app.event("app_context_changed")(tasks.listener(context_changed))
