"""Slack message payloads (events and API results) turned into what the bot records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.model import Conversation, StoredMessage
from bot.slack.identity import Identity
from bot.text.clean import clean_text
from bot.text.from_mrkdwn import mrkdwn_to_markdown
from bot.text.slack_content import file_refs, visible_text

# Message subtypes that carry something someone said; joins, topic changes etc. are noise.
CONTENT_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "bot_message", "me_message"})


def stored_from_slack(message: Mapping[str, Any], identity: Identity) -> StoredMessage | None:
    """A Slack message dict (event or API result) as we record it; None when it is not content."""
    if message.get("subtype") not in CONTENT_SUBTYPES or "ts" not in message:
        return None
    user = message.get("user")
    bot_id = message.get("bot_id")
    own = identity.is_self(message)
    text = clean_text(visible_text(message))
    if own:
        # Our answers are recorded as the Markdown we wrote; read back from Slack, they are mrkdwn.
        text = mrkdwn_to_markdown(text)
    thread_ts = message.get("thread_ts")
    return StoredMessage(
        ts=str(message["ts"]),
        text=text,
        user=str(user) if user else None,
        bot_id=str(bot_id) if bot_id else None,
        own=own,
        thread_ts=str(thread_ts) if thread_ts and thread_ts != message["ts"] else None,
        files=file_refs(message),
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
