"""Whose workspace a piece of work is for: that workspace's bot token and bot identity.

With one workspace (SLACK_BOT_TOKEN) nothing is ever bound and the one client and identity built
at start-up answer everywhere. With OAuth installs each event's workspace is bound here for its
handling (`bind`, from a Bolt middleware after `authorize`), and asyncio copies the binding into
every task the handling starts, so the answer streaming in the background, its edits and its
reads all carry the same workspace's token. The parts keep holding one `TeamClient` and one
`TeamIdentity`: which team they speak for is read at each call, not fixed when they are built.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.identity import BotIdentity


@dataclass(frozen=True, slots=True)
class Team:
    """One installed workspace: the bot token Slack gave it and who the bot is there."""

    token: str
    identity: BotIdentity

    def __repr__(self) -> str:
        return f"Team(team_id={self.identity.team_id!r}, token='********')"


_bound: ContextVar[Team | None] = ContextVar("slack_team", default=None)


def bind(team: Team | None) -> None:
    """The workspace the current event (and the tasks it starts) works for; None: the default."""
    _bound.set(team)


def bound() -> Team | None:
    return _bound.get()


class NoTeamBound(RuntimeError):
    """A Slack call or identity read outside any workspace's event in OAuth mode (a bug)."""


class TeamClient(AsyncWebClient):
    """An `AsyncWebClient` whose token is the bound workspace's, else the one it was built with.

    slack-sdk reads `self.token` on every call (`api_call`), so one client (one session, one
    base URL, one trace config for the metrics) serves every workspace without a client per team.
    """

    _own_token: str | None

    @property
    def token(self) -> str | None:
        team = _bound.get()
        return team.token if team is not None else self._own_token

    @token.setter
    def token(self, value: str | None) -> None:
        self._own_token = value


class TeamIdentity:
    """`Identity` of the bound workspace's bot, else `default` (None in OAuth mode: then a read
    outside an event is a bug and says so instead of answering as some other workspace's bot)."""

    def __init__(self, default: BotIdentity | None = None) -> None:
        self._default = default

    def _now(self) -> BotIdentity:
        team = _bound.get()
        if team is not None:
            return team.identity
        if self._default is None:
            raise NoTeamBound("no workspace is bound to this work")
        return self._default

    @property
    def team_id(self) -> str:
        return self._now().team_id

    @property
    def user_id(self) -> str:
        return self._now().user_id

    @property
    def bot_id(self) -> str | None:
        return self._now().bot_id

    @property
    def url(self) -> str:
        return self._now().url

    @property
    def scopes(self) -> frozenset[str]:
        return self._now().scopes

    def is_self(self, message: Mapping[str, Any]) -> bool:
        return self._now().is_self(message)

    def permalink(self, channel: str, ts: str, thread_ts: str | None = None) -> str:
        return self._now().permalink(channel, ts, thread_ts)
