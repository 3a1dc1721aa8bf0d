"""Read history from Slack, only where Redis cannot answer: a thread it never saw, or Redis is down.

`conversations.replies` / `conversations.history` are rationed for distributed apps (as low as
one request a minute, 15 messages a page), so callers use these once per conversation and then
rely on the messages recorded as events arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.model import StoredMessage, ts_key
from bot.slack.identity import Identity
from bot.slack.messages import stored_from_slack

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Read:
    """Messages read from Slack, oldest first, and whether the read got everything it went for:
    False when an error (a 429, say) ended it early, so the conversation's older or newer part
    may be missing and the read is worth doing again later."""

    messages: list[StoredMessage]
    complete: bool


async def _pages(
    what: str,
    call: Callable[..., Awaitable[AsyncSlackResponse]],
    identity: Identity,
    *,
    max_messages: int,
    follow: bool = True,
    **params: Any,
) -> Read:
    """Messages from one paged read method, following cursors (when `follow`) up to
    `max_messages`; an error ends the read, incomplete, with what was found so far."""
    found: list[StoredMessage] = []
    cursor: str | None = None
    complete = True
    while len(found) < max_messages:
        try:
            response = await call(limit=min(200, max_messages), cursor=cursor, **params)
        except SlackApiError as exc:
            log.warning("%s failed: %s", what, exc.response.get("error"))
            complete = False
            break
        found.extend(s for raw in response.get("messages") or () if (s := stored_from_slack(raw, identity)))
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not (follow and cursor):
            break
    # Slack may repeat a thread's root on every page: one copy per ts, oldest first.
    return Read(sorted({m.ts: m for m in found}.values(), key=lambda m: ts_key(m.ts)), complete)


async def fetch_thread(
    slack: AsyncWebClient, *, channel: str, thread_ts: str, identity: Identity, max_messages: int
) -> Read:
    """Every message of a thread (root first)."""
    return await _pages(
        "conversations.replies",
        slack.conversations_replies,
        identity,
        max_messages=max_messages,
        channel=channel,
        ts=thread_ts,
    )


async def fetch_recent(slack: AsyncWebClient, *, channel: str, identity: Identity, limit: int) -> Read:
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
    slack: AsyncWebClient, *, channel: str, oldest: str, identity: Identity, max_messages: int
) -> Read:
    """Top-level messages of a channel since `oldest`."""
    return await _pages(
        "conversations.history",
        slack.conversations_history,
        identity,
        max_messages=max_messages,
        channel=channel,
        oldest=oldest,
    )
