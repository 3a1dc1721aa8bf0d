"""Request signing and Events API bodies shaped like the ones Slack sends.

`sign()` computes Slack's `v0` request signature. The builders return plain dicts with the
fields Slack puts in `event_callback` deliveries (Events API over HTTP, or the `payload` of a
Socket Mode `events_api` envelope); serialise them with `json.dumps` before signing.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any

__all__ = [
    "app_mention",
    "event_callback",
    "message_changed",
    "message_deleted",
    "message_event",
    "new_ts",
    "sign",
    "ts_to_micros",
    "url_verification",
]


class _Clock:
    """Hands out strictly increasing message timestamps based on the wall clock."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, after: str | None = None) -> str:
        floor = ts_to_micros(after) if after else 0
        self._last = max(time.time_ns() // 1000, self._last + 1, floor + 1)
        seconds, micros = divmod(self._last, 1_000_000)
        return f"{seconds}.{micros:06d}"


_clock = _Clock()


def sign(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack would send with `body`: `X-Slack-Request-Timestamp` and `X-Slack-Signature`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def new_ts(after: str | None = None) -> str:
    """A unique message ts (`"1700000000.123456"`), later than every earlier one and than `after`."""
    return _clock.next(after)


def ts_to_micros(ts: str) -> int:
    """`"1700000000.000100"` → 1700000000000100, for ordering and arithmetic on message ts."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int(fraction.ljust(6, "0")[:6])


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str = "T1",
    event_id: str | None = None,
    api_app_id: str = "A1",
    bot_user_id: str = "UBOT",
    event_time: int | None = None,
) -> dict[str, Any]:
    """Wrap `event` in the `event_callback` envelope (fresh unique `event_id` unless given)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }


def url_verification(challenge: str = "challenge-token") -> dict[str, Any]:
    """The body Slack sends once to verify a Request URL."""
    return {"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"}


def _message_fields(
    *,
    text: str,
    user: str,
    channel: str,
    ts: str | None,
    thread_ts: str | None,
    team: str,
    blocks: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    ts = ts or new_ts()
    fields: dict[str, Any] = {
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid4()),
        "team": team,
    }
    if blocks is not None:
        fields["blocks"] = blocks
    if thread_ts is not None:
        fields["thread_ts"] = thread_ts
    return fields


def app_mention(
    *,
    text: str,
    user: str = "U1",
    channel: str = "C1",
    ts: str | None = None,
    thread_ts: str | None = None,
    team: str = "T1",
    blocks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An `app_mention` event (no `channel_type`: Slack omits it for this event)."""
    fields = _message_fields(
        text=text, user=user, channel=channel, ts=ts, thread_ts=thread_ts, team=team, blocks=blocks
    )
    return {"type": "app_mention", **fields}


def message_event(
    *,
    text: str,
    user: str = "U1",
    channel: str = "C1",
    channel_type: str = "channel",
    ts: str | None = None,
    thread_ts: str | None = None,
    parent_user_id: str | None = None,
    team: str = "T1",
    bot_id: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A plain `message` event (`channel_type`: channel, group, im or mpim).

    With `bot_id`, it looks like a message an app posted (`bot_id`, `app_id`, no `client_msg_id`).
    """
    fields = _message_fields(
        text=text, user=user, channel=channel, ts=ts, thread_ts=thread_ts, team=team, blocks=blocks
    )
    if thread_ts is not None:
        fields["parent_user_id"] = parent_user_id or user
    if bot_id is not None:
        del fields["client_msg_id"]
        fields["bot_id"] = bot_id
        fields["app_id"] = "A1"
    return {"type": "message", **fields, "channel_type": channel_type}


def message_changed(
    *,
    channel: str,
    ts: str,
    text: str,
    previous_text: str = "",
    user: str = "U1",
    bot_id: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    event_ts: str | None = None,
) -> dict[str, Any]:
    """A `message_changed` event: message `ts` in `channel` now reads `text`."""
    event_ts = event_ts or new_ts()
    inner: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts}
    if bot_id is not None:
        inner["bot_id"] = bot_id
    if thread_ts is not None:
        inner["thread_ts"] = thread_ts
    previous = {**inner, "text": previous_text}
    inner["edited"] = {"user": user, "ts": event_ts}
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": inner,
        "previous_message": previous,
        "channel": channel,
        "hidden": True,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel_type,
    }


def message_deleted(
    *,
    channel: str,
    deleted_ts: str,
    previous_text: str = "",
    user: str = "U1",
    thread_ts: str | None = None,
    channel_type: str = "channel",
    event_ts: str | None = None,
) -> dict[str, Any]:
    """A `message_deleted` event for message `deleted_ts` in `channel`."""
    event_ts = event_ts or new_ts()
    previous: dict[str, Any] = {"type": "message", "user": user, "text": previous_text, "ts": deleted_ts}
    if thread_ts is not None:
        previous["thread_ts"] = thread_ts
    return {
        "type": "message",
        "subtype": "message_deleted",
        "previous_message": previous,
        "channel": channel,
        "hidden": True,
        "ts": event_ts,
        "deleted_ts": deleted_ts,
        "event_ts": event_ts,
        "channel_type": channel_type,
    }


def member_joined_channel(
    *, user: str, channel: str, inviter: str | None = "U1", channel_type: str = "C", team: str = "T1"
) -> dict[str, Any]:
    """A `member_joined_channel` event (`channel_type` C: public, G: private)."""
    event: dict[str, Any] = {
        "type": "member_joined_channel",
        "user": user,
        "channel": channel,
        "channel_type": channel_type,
        "team": team,
        "event_ts": new_ts(),
    }
    if inviter is not None:
        event["inviter"] = inviter
    return event
