"""The one access decision: may the bot read conversation X on behalf of user U?

Every surface that reads a conversation for someone (mentions, DMs, /summarize, /recap, /ask, the
shortcut, the assistant pane, Regenerate) asks `refusal()`; nothing from a conversation the asker
cannot read enters a prompt, and nothing is posted there. The rules:
- the bot must be a member (it cannot read otherwise, and must not post there);
- a DM only when it is the asker's own DM with the bot;
- private channels and group DMs only for their members;
- public channels for everyone but guests, who see only the channels they are in.

The allow and block lists (`Policy`: ALLOWED_* / BLOCKED_*) come first: a channel or person the
bot is not enabled for is refused before Slack is asked anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.policy import Policy
from bot.slack.users import Standing, UserDirectory

INVITE = "Invite me there first (`/invite @RelayDance`)."
GUEST_CHECK_MEMBERS = 200  # a larger channel is assumed to hold a guest (checking costs a call each)
GUEST_CHECK_BATCH = 20


@dataclass(frozen=True, slots=True)
class ChannelView:
    """What a conversation is, for deciding where its text may be shown."""

    kind: Literal["public", "private", "im"]  # private: private channels and group DMs
    name: str


@dataclass(slots=True)
class Memo:
    """What one request learned from Slack (channels, people), so it asks each question once;
    never kept across requests: membership and permissions change."""

    channels: dict[str, tuple[dict[str, Any], str | None]] = field(default_factory=dict)
    standings: dict[str, Standing] = field(default_factory=dict)


class Access:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        users: UserDirectory,
        admin_users: Collection[str],
        policy: Policy | None = None,
    ) -> None:
        self._slack = slack
        self._users = users
        self._admin_users = admin_users
        self._policy = policy or Policy()

    def not_enabled(self, channel: str, user: str | None) -> str | None:
        """Why the bot does not work for `user` in `channel` by the allow/block lists (None: it does)."""
        return self._policy.refusal(channel, user)

    async def _channel(self, channel: str, memo: Memo | None = None) -> tuple[dict[str, Any], str | None]:
        if memo is None:
            return await self._look_up(channel)
        if channel not in memo.channels:
            memo.channels[channel] = await self._look_up(channel)
        return memo.channels[channel]

    async def _standing(self, user: str, memo: Memo | None) -> Standing:
        if memo is None:
            return await self._users.standing(user)
        if user not in memo.standings:
            memo.standings[user] = await self._users.standing(user)
        return memo.standings[user]

    async def _look_up(self, channel: str) -> tuple[dict[str, Any], str | None]:
        """conversations.info for `channel`, and why the bot can't read it (None when it can)."""
        try:
            response = await self._slack.conversations_info(channel=channel)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in ("channel_not_found", "not_in_channel", "missing_scope"):
                return {}, f"I can't read that channel. {INVITE}"
            return {}, f"I couldn't look up that channel ({error})."
        except (aiohttp.ClientError, TimeoutError):
            return {}, "I couldn't reach Slack to check that channel; try again in a moment."
        info = dict(response.get("channel") or {})
        if not info.get("is_member", False) and not info.get("is_im", False):
            return info, f"I'm not a member of that channel. {INVITE}"
        return info, None

    async def _is_member(self, channel: str, user: str) -> bool:
        cursor: str | None = None
        try:
            while True:
                page = await self._slack.conversations_members(channel=channel, limit=500, cursor=cursor)
                if user in (page.get("members") or ()):
                    return True
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    return False
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            return False  # unknown counts as "no": refusing is the safe mistake

    async def refusal(self, channel: str, user: str, *, doing: str, memo: Memo | None = None) -> str | None:
        """Why the bot won't read `channel` for `user` (None when it will); the allow/block lists
        first."""
        blocked = self.not_enabled(channel, user)
        if blocked is not None:
            return blocked
        info, problem = await self._channel(channel, memo)
        if problem is not None:
            return problem
        if info.get("is_im"):
            if info.get("user") == user:
                return None
            return f"That is someone else's direct message with me, so I won't {doing} it for you."
        private = bool(info.get("is_private") or info.get("is_group") or info.get("is_mpim"))
        if not private and not (await self._standing(user, memo)).guest:
            return None
        if await self._is_member(channel, user):
            return None
        return f"You can't see that channel, so I won't {doing} it for you."

    async def is_admin(self, user: str) -> bool:
        """Workspace admins and owners, and the bot's own `ADMIN_USERS`."""
        return user in self._admin_users or await self._users.is_admin(user)

    async def may_change_settings(self, user: str) -> bool:
        return await self.is_admin(user)

    async def view(self, channel: str, memo: Memo | None = None) -> ChannelView | None:
        """What `channel` is (None when the bot cannot read it or Slack could not say)."""
        info, problem = await self._channel(channel, memo)
        if problem is not None:
            return None
        if info.get("is_im"):
            return ChannelView("im", "a direct message")
        private = bool(info.get("is_private") or info.get("is_group") or info.get("is_mpim"))
        return ChannelView("private" if private else "public", str(info.get("name") or channel))

    async def has_guests(
        self, channel: str, *, besides: Collection[str] = (), memo: Memo | None = None
    ) -> bool:
        """Whether a guest may be among `channel`'s members other than `besides` (the bot itself);
        unknown, or too many members to check, counts as yes."""
        members: list[str] = []
        cursor: str | None = None
        try:
            while True:
                page = await self._slack.conversations_members(channel=channel, limit=500, cursor=cursor)
                members.extend(str(m) for m in page.get("members") or ())
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor or len(members) > GUEST_CHECK_MEMBERS:
                    break
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            return True
        if len(members) > GUEST_CHECK_MEMBERS:
            return True
        others = [m for m in members if m not in besides]
        for start in range(0, len(others), GUEST_CHECK_BATCH):  # users.info is Tier 4: batches are fine
            batch = others[start : start + GUEST_CHECK_BATCH]
            standings = await asyncio.gather(*(self._standing(m, memo) for m in batch))
            if any(s.guest for s in standings):
                return True
        return False
