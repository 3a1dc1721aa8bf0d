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

__all__ = ["COMMANDS", "EVENTS", "SHORTCUTS"]

EVENTS: Final[frozenset[str]] = frozenset(
    {
        "app_mention",
        "message",
        "app_home_opened",
        "assistant_thread_started",
        "assistant_thread_context_changed",
    }
)
COMMANDS: Final[frozenset[str]] = frozenset({"/ask", "/summarize", "/recap", "/relaydance"})
SHORTCUTS: Final[frozenset[str]] = frozenset({SHORTCUT_SUMMARIZE})
"""Callback ids of the message and global shortcuts."""
