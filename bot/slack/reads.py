"""Read history from Slack, only where Redis cannot answer: a thread it never saw, or Redis is down.

`conversations.replies` / `conversations.history` are rationed for distributed apps (as low as
one request a minute, 15 messages a page), so callers use these once per conversation and then
rely on the messages recorded as events arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.stores.history import StoredMessage, ts_key

log = logging.getLogger(__name__)

# Message subtypes that carry something someone said; joins, topic changes etc. are noise.
CONTENT_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "bot_message", "me_message"})


@dataclass(frozen=True, slots=True)
class BotIdentity:
    team_id: str
    user_id: str
    bot_id: str | None
    url: str = ""  # the workspace's URL from auth.test, e.g. https://acme.slack.com/

    def is_self(self, message: Mapping[str, Any]) -> bool:
        """Whether a Slack message was posted by this bot (its user or its bot ID)."""
        user, bot_id = message.get("user"), message.get("bot_id")
        return (user is not None and user == self.user_id) or (bot_id is not None and bot_id == self.bot_id)

    def permalink(self, channel: str, ts: str, thread_ts: str | None = None) -> str:
        """Slack's permalink format, built locally instead of one chat.getPermalink call per message."""
        base = (self.url or "https://slack.com/").rstrip("/")
        link = f"{base}/archives/{channel}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return link


def stored_from_slack(message: Mapping[str, Any], identity: BotIdentity) -> StoredMessage | None:
    """A Slack message dict (event or API result) as we record it; None when it is not content."""
    if message.get("subtype") not in CONTENT_SUBTYPES or "ts" not in message:
        return None
    user = message.get("user")
    bot_id = message.get("bot_id")
    own = identity.is_self(message)
    text = str(message.get("text") or "")
    for item in message.get("files") or ():
        # Name attached files so the model knows something was shared (contents are not fetched).
        if isinstance(item, Mapping) and item.get("name"):
            text += f"\n[attached file: {item['name']}]"
    thread_ts = message.get("thread_ts")
    return StoredMessage(
        ts=str(message["ts"]),
        text=text,
        user=str(user) if user else None,
        bot_id=str(bot_id) if bot_id else None,
        own=own,
        thread_ts=str(thread_ts) if thread_ts and thread_ts != message["ts"] else None,
    )


async def _pages(
    what: str,
    call: Callable[..., Awaitable[AsyncSlackResponse]],
    identity: BotIdentity,
    *,
    max_messages: int,
    follow: bool = True,
    **params: Any,
) -> list[StoredMessage]:
    """Messages from one paged read method, following cursors (when `follow`) up to
    `max_messages`; an error ends the read with what was found so far."""
    found: list[StoredMessage] = []
    cursor: str | None = None
    while len(found) < max_messages:
        try:
            response = await call(limit=min(200, max_messages), cursor=cursor, **params)
        except SlackApiError as exc:
            log.warning("%s failed: %s", what, exc.response.get("error"))
            break
        found.extend(s for raw in response.get("messages") or () if (s := stored_from_slack(raw, identity)))
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not (follow and cursor):
            break
    # Slack may repeat a thread's root on every page: one copy per ts, oldest first.
    return sorted({m.ts: m for m in found}.values(), key=lambda m: ts_key(m.ts))


async def fetch_thread(
    slack: AsyncWebClient, *, channel: str, thread_ts: str, identity: BotIdentity, max_messages: int
) -> list[StoredMessage]:
    """Every message of a thread (root first)."""
    return await _pages(
        "conversations.replies",
        slack.conversations_replies,
        identity,
        max_messages=max_messages,
        channel=channel,
        ts=thread_ts,
    )


async def fetch_recent(
    slack: AsyncWebClient, *, channel: str, identity: BotIdentity, limit: int
) -> list[StoredMessage]:
    """The newest top-level messages of a channel or DM (one page), oldest first."""
    return await _pages(
        "conversations.history",
        slack.conversations_history,
        identity,
        max_messages=limit,
        follow=False,
        channel=channel,
    )


async def fetch_channel_since(
    slack: AsyncWebClient, *, channel: str, oldest: str, identity: BotIdentity, max_messages: int
) -> list[StoredMessage]:
    """Top-level messages of a channel since `oldest`."""
    return await _pages(
        "conversations.history",
        slack.conversations_history,
        identity,
        max_messages=max_messages,
        channel=channel,
        oldest=oldest,
    )
