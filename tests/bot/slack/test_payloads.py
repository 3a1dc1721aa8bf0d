"""Payload shapes: what the bot refuses before Bolt or a listener reads it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.payloads import problem_with
from tests.fakes.signing import app_mention, event_callback, message_changed, message_event


def test_real_shapes_pass() -> None:
    for event in (
        app_mention(text="<@UBOT> hi"),
        message_event(text="hi", user="U1", thread_ts="1700000000.000100"),
        message_changed(channel="C1", ts="1700000000.000200", text="edited", user="U1"),
        {"type": "app_home_opened", "user": "U1", "tab": "home", "channel": "D1", "event_ts": "1.2"},
        {"type": "assistant_thread_started", "assistant_thread": {"user_id": "U1", "channel_id": "D1"}},
    ):
        assert problem_with(event_callback(event)) is None
    assert problem_with({"type": "url_verification", "challenge": "x", "token": "t"}) is None
    assert problem_with({"command": "/ask", "text": "hi", "user_id": "U1", "channel_id": "C1"}) is None
    assert (
        problem_with({"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "a"}]}) is None
    )


def _with_event(**fields: Any) -> dict[str, Any]:
    event = app_mention(text="<@UBOT> hi")
    event.update(fields)
    return event_callback(event)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([1, 2], "the body is a list, not an object"),
        ("text", "the body is a str, not an object"),
        ({"type": 5}, "type is not a string"),
        ({"type": "event_callback", "event": None}, "event is not an object"),
        ({"type": "event_callback", "event": "app_mention"}, "event is not an object"),
        ({"type": "event_callback", "event": {"text": "hi"}}, "event.type is not a string"),
        (_with_event(text=42), "event.text is not a string"),
        (_with_event(text="x" * 100_001), "event.text is too long"),
        (_with_event(channel=["C1"]), "event.channel is not an ID"),
        (_with_event(user="<script>"), "event.user is not an ID"),
        (_with_event(ts="yesterday"), "event.ts is not a Slack timestamp"),
        (_with_event(files={"name": "x"}), "event.files is not a list"),
        ({"type": "event_callback", "team_id": 7, "event": {"type": "message"}}, "team_id is not a string"),
        (
            event_callback({"type": "message", "subtype": "message_changed", "message": "edited"}),
            "event.message is not an object",
        ),
        ({"type": "block_actions", "user": "U1"}, "user.id is missing"),
        (
            {"type": "block_actions", "user": {"id": "U1"}, "actions": "stop"},
            "actions is not a list of objects",
        ),
    ],
)
def test_malformed_shapes_are_named(body: object, problem: str) -> None:
    assert problem_with(body) == problem
