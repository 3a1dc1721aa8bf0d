"""The app registers listeners for exactly what `handlers.registry` lists (which the manifests mirror).

Registrations are recorded by wrapping Bolt's public registration methods on `AsyncApp` (recording
the argument, then delegating), while the bot starts with its real wiring against the fakes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp, AsyncAssistant

from bot.slack.middleware import AssistantEvents
from handlers import registry
from tests.e2e_harness import bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.slack import FakeSlack

# Bolt's Assistant middleware listens for these (plus user messages in its threads, which arrive as
# `message` events the app subscribes to anyway).
ASSISTANT_EVENTS = tuple(sorted(registry.ASSISTANT_VIEW_EVENTS))


def _name(constraint: Any, key: str) -> str:
    """A listener's constraint as the name Slack uses: a string, or the `key` of a dict form."""
    if isinstance(constraint, dict):
        constraint = constraint[key]
    if isinstance(constraint, re.Pattern):
        raise AssertionError(f"a pattern ({constraint.pattern!r}) cannot be checked against the registry")
    return str(constraint)


class Registrations:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.commands: list[str] = []
        self.shortcuts: list[str] = []

    def wrap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def recording(method: str, record: Callable[[Any], None]) -> None:
            original = getattr(AsyncApp, method)

            def wrapper(app: AsyncApp, first: Any, *args: Any, **kwargs: Any) -> Any:
                record(first)
                return original(app, first, *args, **kwargs)

            monkeypatch.setattr(AsyncApp, method, wrapper)

        recording("event", lambda e: self.events.append(_name(e, "type")))
        recording("message", lambda _: self.events.append("message"))
        recording("command", lambda c: self.commands.append(_name(c, "command")))
        for method in ("shortcut", "global_shortcut", "message_shortcut"):
            recording(method, lambda s: self.shortcuts.append(_name(s, "callback_id")))

        def assistant(first: Any) -> None:
            assert isinstance(first, AsyncAssistant)
            self.events.extend(ASSISTANT_EVENTS)

        def middleware(first: Any) -> None:
            if isinstance(first, AssistantEvents):  # Bolt's Assistant, behind its event filter
                assistant(first.assistant)

        recording("assistant", assistant)
        recording("use", middleware)


async def test_the_app_registers_exactly_what_the_registry_lists(
    monkeypatch: pytest.MonkeyPatch,
    slack: FakeSlack,
    relay: FakeRelayDance,
    redis_url: str,
    redis_prefix: str,
) -> None:
    seen = Registrations()
    seen.wrap(monkeypatch)
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
    async with bot_under_test(slack, relay, settings) as bot:
        # Each once (two listeners would answer twice): the agent experience's events, and the
        # assistant pane's for apps still on assistant_view.
        assert sorted(seen.events) == sorted(registry.EVENTS | registry.ASSISTANT_VIEW_EVENTS)
        assert sorted(seen.commands) == sorted(registry.COMMANDS)
        assert sorted(seen.shortcuts) == sorted(registry.SHORTCUTS)
        # The wrappers delegated: what they recorded really listens.
        response = await bot.command("/relaydance", "")
        assert response.status_code == 200 and "/relaydance settings" in response.text
