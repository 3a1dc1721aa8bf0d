"""Interactivity payloads and assistant / App Home events shaped like the ones Slack sends.

Block actions and view submissions reach the app as a form-encoded `payload=<json>` (send them with
`BotUnderTest.send_interaction`); the events here go through `BotUnderTest.send` like any other.
The payloads are built from what Slack shows the user — the message or view as the fake stored it —
so a button or an input the bot never drew cannot be pressed or filled in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from tests.fakes.signing import new_ts

__all__ = [
    "app_home_opened",
    "assistant_thread_started",
    "block_actions",
    "buttons",
    "modal_state",
    "view_submission",
]

Params = dict[str, Any]


def _elements(blocks: list[Params]) -> Iterator[tuple[Params, Params]]:
    """(block, interactive element) pairs: `actions` elements and section accessories."""
    for block in blocks:
        if block.get("type") in ("actions", "context_actions"):
            for element in block.get("elements") or ():
                yield block, element
        elif isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]


def buttons(blocks: list[Params] | None) -> dict[str, str]:
    """The buttons shown by `blocks`: action_id → value."""
    return {
        element["action_id"]: element.get("value", "")
        for _, element in _elements(blocks or [])
        if element.get("type") == "button"
    }


def _user(user: str, team: str) -> Params:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team}


def _trigger_id() -> str:
    return f"{uuid.uuid4().int % 10**11}.{uuid.uuid4().int % 10**9}.{uuid.uuid4().hex[:32]}"


def block_actions(
    action_id: str,
    *,
    user: str,
    message: Params | None = None,
    channel: str | None = None,
    view: Params | None = None,
    ephemeral: Params | None = None,
    team: str = "T1",
    response_base: str = "https://hooks.slack.com/actions",
    positive: bool = True,
) -> Params:
    """A button press on a message (`message` + `channel`), on an ephemeral message (`ephemeral`,
    as the fake recorded it) or on a view such as App Home (`view`).

    The button is looked up in the message's or view's blocks; a missing one raises LookupError.
    For Slack's `feedback_buttons`, `positive` picks 👍 (else 👎): the press carries that button's
    text and value.
    """
    surface = message if message is not None else ephemeral if ephemeral is not None else view
    if surface is None:
        raise ValueError("a button is pressed on a message or a view")
    found = [(b, e) for b, e in _elements(surface.get("blocks") or []) if e.get("action_id") == action_id]
    if not found:
        raise LookupError(f"no {action_id!r} element in {surface.get('blocks')!r}")
    block, element = found[0]
    if element.get("type") == "feedback_buttons":
        chosen = element["positive_button" if positive else "negative_button"]
        element = {**element, "text": chosen["text"], "value": chosen["value"]}
    action = {
        "action_id": action_id,
        "block_id": block.get("block_id") or uuid.uuid4().hex[:5],  # Slack fills one in
        "text": element.get("text"),
        "value": element.get("value"),
        "type": element.get("type", "button"),
        "action_ts": new_ts(),
    }
    payload: Params = {
        "type": "block_actions",
        "user": _user(user, team),
        "api_app_id": "A1",
        "token": "legacy-verification-token",
        "trigger_id": _trigger_id(),
        "team": {"id": team, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": [action],
    }
    if message is not None:
        if channel is None:
            raise ValueError("a message button needs the message's channel")
        container: Params = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        }
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        payload.update(
            container=container,
            channel={"id": channel, "name": channel.lower()},
            message=message,
            response_url=f"{response_base}/T1/{uuid.uuid4().int % 10**12}/{uuid.uuid4().hex[:24]}",
        )
    elif ephemeral is not None:
        # Slack sends no `message` for an ephemeral one: the container says where it was.
        container = {
            "type": "message",
            "message_ts": ephemeral["ts"],
            "channel_id": ephemeral["channel"],
            "is_ephemeral": True,
        }
        if ephemeral.get("thread_ts"):
            container["thread_ts"] = ephemeral["thread_ts"]
        payload.update(
            container=container,
            channel={"id": ephemeral["channel"], "name": str(ephemeral["channel"]).lower()},
            response_url=f"{response_base}/T1/{uuid.uuid4().int % 10**12}/{uuid.uuid4().hex[:24]}",
        )
    else:
        assert view is not None
        payload.update(container={"type": "view", "view_id": view["id"]}, view=view)
    return payload


def modal_state(view: Params, answers: Mapping[str, str | None]) -> Params:
    """`view.state.values` for a submission: every input block of `view`, answered by action_id.

    Text inputs take the answer (or keep their initial value); menus and radio buttons select the
    option whose value is the answer (or keep their initial option). An answer that is not one of
    the options raises ValueError: Slack could not send it.
    """
    values: Params = {}
    unused = set(answers)
    for block in view.get("blocks") or ():
        if block.get("type") != "input":
            continue
        element = block["element"]
        action_id = element["action_id"]
        unused.discard(action_id)
        kind = element["type"]
        if kind == "plain_text_input":
            value = answers.get(action_id, element.get("initial_value"))
            state: Params = {"type": kind, "value": value or None}  # Slack sends null when empty
        elif kind in ("static_select", "radio_buttons"):
            selected = element.get("initial_option")
            if action_id in answers:
                matching = [o for o in element["options"] if o["value"] == answers[action_id]]
                if not matching:
                    raise ValueError(f"{answers[action_id]!r} is not an option of {action_id!r}")
                selected = matching[0]
            state = {"type": kind, "selected_option": selected}
        else:
            raise ValueError(f"no state for a {kind!r} input")
        values[block["block_id"]] = {action_id: state}
    if unused:
        raise ValueError(f"the view has no inputs {sorted(unused)!r}")
    return values


def view_submission(view: Params, *, user: str, values: Params, team: str = "T1") -> Params:
    """The `view_submission` payload for `view` (as views.open answered it) with `values` entered."""
    return {
        "type": "view_submission",
        "team": {"id": team, "domain": "fake"},
        "user": _user(user, team),
        "api_app_id": "A1",
        "token": "legacy-verification-token",
        "trigger_id": _trigger_id(),
        "view": {**view, "state": {"values": values}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def assistant_thread_started(
    *, thread_ts: str, user: str = "U1", channel: str = "D1", context: Params | None = None
) -> Params:
    """The event Slack sends when a user opens a new thread in the app's assistant pane.

    `context` describes what the user is viewing (`{"channel_id", "team_id", "enterprise_id"}`);
    empty when they opened the pane from no channel.
    """
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": context if context is not None else {},
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "event_ts": new_ts(),
    }


def app_home_opened(*, user: str, channel: str = "D1", view: Params | None = None) -> Params:
    """The event Slack sends when a user opens the app's Home tab (`view`: what was published)."""
    event: Params = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": "home",
        "event_ts": new_ts(),
    }
    if view is not None:
        event["view"] = view
    return event
