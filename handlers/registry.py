"""The single list of what the app registers with Bolt: event types, slash commands, shortcuts.

The handler modules register listeners for exactly these, and `tests/test_manifest.py` checks that
both Slack app manifests (`manifest.yml` for Socket Mode, `manifest.http.yml` for HTTP) subscribe to
the same ones, so a listener without a subscription (never called) or a subscription without a
listener (events acknowledged and dropped) shows up as a failing test instead of in production.

Event types are as Bolt matches them (`app.event("message")`): the manifest's `message.channels`,
`message.groups`, `message.im` and `message.mpim` subscriptions all arrive as `message`.
"""

from __future__ import annotations

from typing import Final

from bot.slack.blocks import SHORTCUT_SUMMARIZE

__all__ = ["ASSISTANT_VIEW_EVENTS", "BOT_SCOPES", "COMMANDS", "EVENTS", "SHORTCUTS"]

EVENTS: Final[frozenset[str]] = frozenset(
    {
        "app_mention",
        "message",
        "app_home_opened",  # the Home tab, and the Messages tab of the agent experience
        "app_context_changed",  # agent experience: what the user is looking at
        "app_uninstalled",  # OAuth installs: forget the workspace's installation
        "tokens_revoked",  # OAuth installs: forget revoked tokens
        "member_joined_channel",  # the bot joining a channel: backfill its past (KNOWLEDGE_BACKFILL_DAYS)
    }
)
"""What the manifests subscribe to: the agent experience (`features.agent_view`)."""
ASSISTANT_VIEW_EVENTS: Final[frozenset[str]] = frozenset(
    {"assistant_thread_started", "assistant_thread_context_changed"}
)
"""Also handled (Bolt's Assistant middleware), for apps whose manifest still has `assistant_view`."""
COMMANDS: Final[frozenset[str]] = frozenset({"/ask", "/summarize", "/recap", "/relaydance"})
SHORTCUTS: Final[frozenset[str]] = frozenset({SHORTCUT_SUMMARIZE})
"""Callback ids of the message and global shortcuts."""

BOT_SCOPES: Final[frozenset[str]] = frozenset(
    {
        "app_mentions:read",  # app_mention events
        "assistant:write",  # assistant.threads.setStatus / setSuggestedPrompts / setTitle
        "channels:history",  # message.channels; conversations.history / replies in public channels
        "channels:read",  # conversations.info / members of public channels (access checks)
        "groups:history",  # message.groups; reading private channels
        "groups:read",  # conversations.info / members of private channels
        "im:history",  # message.im; reading DMs with the bot
        "im:read",  # conversations.info of a DM (the access check: whose DM a link points to)
        "mpim:history",  # message.mpim; reading group DMs
        "mpim:read",  # conversations.info / members of group DMs (summaries and recaps there)
        "chat:write",  # posting and editing answers, ephemeral notes
        "commands",  # the slash commands and the message shortcut
        "users:read",  # users.info: display names, admin and guest checks
        "files:read",  # shared text files and snippets read for the model; files.info (Slack Connect)
        "usergroups:read",  # usergroups.list: a user group mentioned without a label shown by its handle
    }
)
"""The bot token scopes the code's calls and events need (`python -m bot doctor` checks them)."""
