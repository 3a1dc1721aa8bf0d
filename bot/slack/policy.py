"""Where the bot works and for whom: ALLOWED_* / BLOCKED_* from the settings, as pure checks.

Unset lists mean everyone. A blocked ID always loses; when an allow list is set, only its IDs
pass. ALLOWED_CHANNELS governs channels, not DMs (a DM is governed by the user lists; list a DM's
`D…` ID in BLOCKED_CHANNELS to turn that one conversation off).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

NOT_FOR_YOU = "I'm not enabled for you in this workspace. Ask a workspace admin if you need me."
NOT_IN_THIS_DM = "I'm not enabled in this conversation."
NOT_HERE = "I'm not enabled in <#{channel}>. Ask a workspace admin if you need me there."


@dataclass(frozen=True, slots=True)
class Policy:
    allowed_channels: frozenset[str] = frozenset()
    allowed_users: frozenset[str] = frozenset()
    blocked_channels: frozenset[str] = frozenset()
    blocked_users: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        allowed_channels: Collection[str] = (),
        allowed_users: Collection[str] = (),
        blocked_channels: Collection[str] = (),
        blocked_users: Collection[str] = (),
    ) -> Policy:
        return cls(
            frozenset(allowed_channels),
            frozenset(allowed_users),
            frozenset(blocked_channels),
            frozenset(blocked_users),
        )

    def user_ok(self, user: str | None) -> bool:
        if user is None:
            return True  # a message without a user (another app's) is judged by its channel alone
        if user in self.blocked_users:
            return False
        return not self.allowed_users or user in self.allowed_users

    def channel_ok(self, channel: str) -> bool:
        if channel in self.blocked_channels:
            return False
        return not self.allowed_channels or channel.startswith("D") or channel in self.allowed_channels

    def refusal(self, channel: str, user: str | None) -> str | None:
        """Why the bot won't work for `user` in `channel` (None when it will): one sentence."""
        if not self.user_ok(user):
            return NOT_FOR_YOU
        if not self.channel_ok(channel):
            return NOT_IN_THIS_DM if channel.startswith("D") else NOT_HERE.format(channel=channel)
        return None
