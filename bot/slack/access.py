"""Who may see and change what: checks shared by commands, shortcuts and the assistant pane."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError

from bot.core.deps import Deps


async def _channel(deps: Deps, channel: str) -> tuple[dict[str, Any], str | None]:
    """conversations.info for `channel`, and why the bot can't read it (None when it can)."""
    try:
        response = await deps.slack.conversations_info(channel=channel)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in ("channel_not_found", "not_in_channel", "missing_scope"):
            return {}, "I can't read that channel. Invite me there first (`/invite @RelayDance`)."
        return {}, f"I couldn't look up that channel ({error})."
    info = dict(response.get("channel") or {})
    if not info.get("is_member", False) and not info.get("is_im", False):
        return info, "I'm not a member of that channel. Invite me there first (`/invite @RelayDance`)."
    return info, None


async def bot_can_read(deps: Deps, channel: str) -> str | None:
    """None when the bot is in `channel`; otherwise a sentence for the user saying why not."""
    if channel.startswith("D"):
        return None
    return (await _channel(deps, channel))[1]


async def _is_member(deps: Deps, channel: str, user: str) -> bool:
    cursor: str | None = None
    try:
        while True:
            page = await deps.slack.conversations_members(channel=channel, limit=500, cursor=cursor)
            if user in (page.get("members") or ()):
                return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return False
    except SlackApiError:
        return False


async def refusal(deps: Deps, channel: str, user: str, *, doing: str) -> str | None:
    """Why the bot won't read `channel` for `user`: it is not in it, or the user can't see it
    (public channels are visible to the workspace; private ones only to their members)."""
    if channel.startswith("D"):
        return None
    info, problem = await _channel(deps, channel)
    if problem is not None:
        return problem
    private = info.get("is_private") or info.get("is_group") or info.get("is_mpim")
    if private and not await _is_member(deps, channel, user):
        return f"You can't see that channel, so I won't {doing} it for you."
    return None


async def may_change_settings(deps: Deps, user: str) -> bool:
    return user in deps.settings.admin_users or await deps.names.is_admin(user)
