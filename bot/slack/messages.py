"""Slack message payloads (events and API results) turned into what the bot records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.model import Conversation, StoredMessage
from bot.slack.identity import BotIdentity
from bot.text.clean import clean_text

# Message subtypes that carry something someone said; joins, topic changes etc. are noise.
CONTENT_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "bot_message", "me_message"})


def stored_from_slack(message: Mapping[str, Any], identity: BotIdentity) -> StoredMessage | None:
    """A Slack message dict (event or API result) as we record it; None when it is not content."""
    if message.get("subtype") not in CONTENT_SUBTYPES or "ts" not in message:
        return None
    user = message.get("user")
    bot_id = message.get("bot_id")
    own = identity.is_self(message)
    raw = message.get("text")
    text = clean_text(raw) if isinstance(raw, str) else ""
    for item in message.get("files") or ():
        # Name attached files so the model knows something was shared (contents are not fetched).
        if isinstance(item, Mapping) and item.get("name"):
            text += f"\n[attached file: {clean_text(str(item['name']))}]"
    thread_ts = message.get("thread_ts")
    return StoredMessage(
        ts=str(message["ts"]),
        text=text,
        user=str(user) if user else None,
        bot_id=str(bot_id) if bot_id else None,
        own=own,
        thread_ts=str(thread_ts) if thread_ts and thread_ts != message["ts"] else None,
    )


def team_of(body: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    return str(body.get("team_id") or event.get("team") or "")


def conversation_of(team: str, channel: str, message: Mapping[str, Any]) -> Conversation:
    """A reply lives in its thread; a top-level message lives in the channel's top level."""
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != message.get("ts"):
        return Conversation(team, channel, str(thread_ts))
    return Conversation(team, channel, None)


def is_from_bot(event: Mapping[str, Any]) -> bool:
    return bool(event.get("bot_id")) or event.get("subtype") == "bot_message"
