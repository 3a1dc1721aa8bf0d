"""The fake's `assistant.search.context` (Slack's Real-time Search API), as Slack's reference
describes it: a bot token needs a `search:read.*` scope (`missing_scope` with `needed`/`provided`
otherwise) and the `action_token` of an event, which stands for the user who wrote it; results are
the messages that user may see in the channel types asked for (`public_channel` by default), each
with `channel_id`, `message_ts`, `content`, `author_user_id`, `author_name` and a permalink that
names the thread of a reply; `limit` is at most 20.

Matching is a plain keyword overlap (Slack's ranking is its own); messages by bots are left out
unless `include_bots` is set.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.fakes.slack.params import Params, SlackError, optional, required

if TYPE_CHECKING:
    from tests.fakes.slack.methods import WebApi

SEARCH_LIMIT = 20
SCOPE_FOR = {
    "public_channel": "search:read.public",
    "private_channel": "search:read.private",
    "mpim": "search:read.mpim",
    "im": "search:read.im",
}
_WORD = re.compile(r"[a-z0-9]{3,}")


def _listed(params: Params, name: str, default: str) -> list[str]:
    raw = params.get(name)
    if raw is None:
        return [default]
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def search_context(slack: WebApi, params: Params) -> Params:
    """Bound by the fake (see `WebApi.handlers`)."""
    from tests.fakes.slack.methods import PERMALINK_BASE  # methods imports this module

    query = required(params, "query", "invalid_arguments")
    granted = {s for s in slack.scopes.split(",") if s}
    kinds = _listed(params, "channel_types", "public_channel")
    if any(k not in SCOPE_FOR for k in kinds):
        raise SlackError("invalid_arguments")
    needed = [SCOPE_FOR[k] for k in kinds if SCOPE_FOR[k] not in granted]
    if needed:
        raise SlackError("missing_scope", needed=",".join(needed), provided=slack.scopes)
    if _listed(params, "content_types", "messages") != ["messages"]:
        raise SlackError("invalid_arguments")  # the fake serves messages only
    token = optional(params, "action_token")
    user = slack.action_tokens.get(token or "")
    if user is None:
        raise SlackError("invalid_action_token")
    try:
        limit = int(params.get("limit") or SEARCH_LIMIT)
    except ValueError:
        raise SlackError("invalid_limit") from None
    if not 1 <= limit <= SEARCH_LIMIT:
        raise SlackError("invalid_limit")
    include_bots = str(params.get("include_bots", "")).lower() in ("1", "true")
    words = set(_WORD.findall(query.lower()))
    scored: list[tuple[int, str, str, Params]] = []
    for channel, info in slack.channels.items():
        if _kind(info) not in kinds or not slack.sees(user, channel):
            continue
        for ts, message in slack.messages.get(channel, {}).items():
            if message.get("bot_id") and not include_bots:
                continue
            overlap = len(words & set(_WORD.findall(str(message.get("text", "")).lower())))
            if overlap:
                scored.append((overlap, channel, ts, message))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    results = []
    for _, channel, ts, message in scored[:limit]:
        link = f"{PERMALINK_BASE}/{channel}/p{ts.replace('.', '')}"
        if "parent_user_id" in message:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        author = str(message.get("user") or "")
        profile = slack.users.get(author, {}).get("profile", {})
        results.append(
            {
                "author_user_id": author,
                "author_name": profile.get("display_name") or author,
                "team_id": slack.team_id,
                "channel_id": channel,
                "channel_name": slack.channels[channel].get("name", ""),
                "message_ts": ts,
                "content": message.get("text", ""),
                "is_author_bot": bool(message.get("bot_id")),
                "permalink": link,
            }
        )
    return {"results": {"messages": results}, "response_metadata": {"next_cursor": ""}}


def _kind(info: Params) -> str:
    if info.get("is_im"):
        return "im"
    if info.get("is_mpim"):
        return "mpim"
    return "private_channel" if info.get("is_private") else "public_channel"
