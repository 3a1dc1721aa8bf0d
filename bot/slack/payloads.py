"""Check the shape of what Slack sends before anything reads it.

Bolt assumes well-formed payloads: a signed body that is a JSON array, an `event` that is a string
or a `text` that is a number turns into a 500 with a traceback, or into an answer to nonsense.
`problem_with` names the first field of the wrong type or size (None when the payload is fine),
so the HTTP endpoint and the Socket Mode path can refuse it with one log line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_TEXT_CHARS = 100_000  # Slack caps a message at 40,000; leave room, refuse the absurd
_TS = re.compile(r"^[0-9]{1,12}\.[0-9]{1,8}$")
_ID = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,40}$")
_STR_FIELDS = ("type", "subtype", "channel_type", "event_ts", "tab", "team", "bot_id", "app_id")
_ID_FIELDS = ("channel", "user")
_TS_FIELDS = ("ts", "thread_ts", "deleted_ts")
_LIST_FIELDS = ("files", "blocks", "attachments")


def problem_with(body: object) -> str | None:
    """What is wrong with a Slack request body (already parsed), or None."""
    if not isinstance(body, Mapping):
        return f"the body is a {type(body).__name__}, not an object"
    kind = body.get("type")
    if kind is not None and not isinstance(kind, str):
        return "type is not a string"
    for name in ("team_id", "event_id", "api_app_id", "command", "text", "user_id", "channel_id"):
        if name in body and not isinstance(body[name], str):
            return f"{name} is not a string"
    if kind == "event_callback":
        return _event_problem(body.get("event"), "event")
    if kind in ("block_actions", "message_action", "shortcut", "view_submission", "view_closed"):
        user = body.get("user")
        if not isinstance(user, Mapping) or not isinstance(user.get("id"), str):
            return "user.id is missing"
        actions = body.get("actions")
        if actions is not None and not (
            isinstance(actions, list) and all(isinstance(a, Mapping) for a in actions)
        ):
            return "actions is not a list of objects"
    if isinstance(body.get("text"), str) and len(body["text"]) > MAX_TEXT_CHARS:
        return "text is too long"
    return None


# Events whose fields the bot reads; others are only checked for being objects with a type.
_READ_EVENTS = frozenset({"message", "app_mention", "app_home_opened"})


def _event_problem(event: object, where: str) -> str | None:
    if not isinstance(event, Mapping):
        return f"{where} is not an object"
    if not isinstance(event.get("type"), str) and where == "event":
        return f"{where}.type is not a string"
    if where == "event" and event["type"] not in _READ_EVENTS:
        return None
    for name in _STR_FIELDS:
        if name in event and event[name] is not None and not isinstance(event[name], str):
            return f"{where}.{name} is not a string"
    for name in _ID_FIELDS:
        value = event.get(name)
        if value is not None and not (isinstance(value, str) and _ID.match(value)):
            return f"{where}.{name} is not an ID"
    for name in _TS_FIELDS:
        value = event.get(name)
        if value is not None and not (isinstance(value, str) and _TS.match(value)):
            return f"{where}.{name} is not a Slack timestamp"
    text = event.get("text")
    if text is not None:
        if not isinstance(text, str):
            return f"{where}.text is not a string"
        if len(text) > MAX_TEXT_CHARS:
            return f"{where}.text is too long"
    for name in _LIST_FIELDS:
        if name in event and event[name] is not None and not isinstance(event[name], list):
            return f"{where}.{name} is not a list"
    for name in ("message", "previous_message"):
        if event.get(name) is not None:
            problem = _event_problem(event[name], f"{where}.{name}")
            if problem:
                return problem
    return None


def describe(body: object) -> str:
    """A short, secret-free label of a request for a log line."""
    if not isinstance(body, Mapping):
        return type(body).__name__
    event = body.get("event")
    event_type = event.get("type") if isinstance(event, Mapping) else None
    return f"{body.get('type')}/{event_type}" if event_type else str(body.get("type"))
