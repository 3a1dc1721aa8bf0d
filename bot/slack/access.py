"""Who may see and change what: the checks shared by commands, shortcuts and the assistant pane."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.users import UserDirectory


class Access:
    def __init__(self, *, slack: AsyncWebClient, users: UserDirectory, admin_users: Collection[str]) -> None:
        self._slack = slack
        self._users = users
        self._admin_users = admin_users

    async def _channel(self, channel: str) -> tuple[dict[str, Any], str | None]:
        """conversations.info for `channel`, and why the bot can't read it (None when it can)."""
        try:
            response = await self._slack.conversations_info(channel=channel)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in ("channel_not_found", "not_in_channel", "missing_scope"):
                return {}, "I can't read that channel. Invite me there first (`/invite @RelayDance`)."
            return {}, f"I couldn't look up that channel ({error})."
        info = dict(response.get("channel") or {})
        if not info.get("is_member", False) and not info.get("is_im", False):
            return info, "I'm not a member of that channel. Invite me there first (`/invite @RelayDance`)."
        return info, None

    async def bot_can_read(self, channel: str) -> str | None:
        """None when the bot is in `channel`; otherwise a sentence for the user saying why not."""
        if channel.startswith("D"):
            return None
        return (await self._channel(channel))[1]

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
        except SlackApiError:
            return False

    async def refusal(self, channel: str, user: str, *, doing: str) -> str | None:
        """Why the bot won't read `channel` for `user`: it is not in it, or the user can't see it
        (public channels are visible to the workspace; private ones only to their members)."""
        if channel.startswith("D"):
            return None
        info, problem = await self._channel(channel)
        if problem is not None:
            return problem
        private = info.get("is_private") or info.get("is_group") or info.get("is_mpim")
        if private and not await self._is_member(channel, user):
            return f"You can't see that channel, so I won't {doing} it for you."
        return None

    async def is_admin(self, user: str) -> bool:
        """Workspace admins and owners, and the bot's own `ADMIN_USERS`."""
        return user in self._admin_users or await self._users.is_admin(user)

    async def may_change_settings(self, user: str) -> bool:
        return await self.is_admin(user)
