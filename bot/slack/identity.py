"""Who the bot is in the workspace (from `auth.test` at start-up), and links into it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class Identity(Protocol):
    """What the parts read of the bot's identity (a `BotIdentity`, or `bot.slack.teams.TeamIdentity`
    answering for the workspace being served)."""

    @property
    def team_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def bot_id(self) -> str | None: ...
    @property
    def url(self) -> str: ...
    @property
    def scopes(self) -> frozenset[str]: ...
    def is_self(self, message: Mapping[str, Any]) -> bool: ...
    def permalink(self, channel: str, ts: str, thread_ts: str | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class BotIdentity:
    team_id: str
    user_id: str
    bot_id: str | None
    url: str = ""  # the workspace's URL from auth.test, e.g. https://acme.slack.com/
    scopes: frozenset[str] = frozenset()  # the bot token's, from auth.test's x-oauth-scopes header

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


def scopes_of(headers: Mapping[str, Any]) -> frozenset[str]:
    """A token's scopes as Slack lists them in every Web API answer (`x-oauth-scopes`, any case)."""
    raw = next((str(v) for k, v in headers.items() if str(k).lower() == "x-oauth-scopes"), "")
    return frozenset(s.strip() for s in raw.split(",") if s.strip())
