"""Reading Web API arguments the way Slack does, and the errors a method answers with.

Arguments arrive as query parameters, form fields (objects as JSON strings) or a JSON body; these
helpers read them and validate message content (text, blocks, limits, cursors) like Slack.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from tests.fakes.signing import ts_to_micros

Params = dict[str, Any]
Handler = Callable[[Params], Params]

MAX_BLOCKS = 50
BLOCK_TEXT_LIMITS = {"section": 3_000, "header": 150, "markdown": 12_000}


class SlackError(Exception):
    """Raised by a method handler; answered as HTTP 200 `{"ok": false, "error": …, **extra}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def optional(params: Params, key: str) -> str | None:
    value = params.get(key)
    return None if value is None or value == "" else str(value)


def required(params: Params, key: str, error: str) -> str:
    value = optional(params, key)
    if value is None:
        raise SlackError(error)
    return value


def flag(params: Params, key: str) -> bool:
    return params.get(key) in (True, 1, "1", "true", "True")


def json_value(value: Any, error: str) -> Any:
    """Form bodies carry objects as JSON strings; JSON bodies carry them as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(error) from None
    return value


def message_content(params: Params) -> Params:
    """text / blocks / attachments / markdown_text of a message call, validated like Slack."""
    content: Params = {}
    if (text := params.get("text")) is not None:
        content["text"] = str(text)
    if "blocks" in params:
        content["blocks"] = parse_blocks(params["blocks"])
    if "attachments" in params:
        content["attachments"] = json_value(params["attachments"], "invalid_attachments")
    if (markdown := params.get("markdown_text")) is not None:
        content["text"] = str(markdown)
        content["blocks"] = [{"type": "markdown", "text": str(markdown)}]
    if not (content.get("text") or content.get("blocks") or content.get("attachments")):
        raise SlackError("no_text")
    return content


def parse_blocks(raw: Any) -> list[Params]:
    blocks = json_value(raw, "invalid_blocks_format")
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and "type" in b for b in blocks):
        raise SlackError("invalid_blocks_format")
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        limit = BLOCK_TEXT_LIMITS.get(block["type"])
        text = block.get("text")
        text = text.get("text") if isinstance(text, dict) else text
        if limit is not None and isinstance(text, str) and len(text) > limit:
            pointer = f"/blocks/{i}/text" + ("" if block["type"] == "markdown" else "/text")
            problems.append(f"must be less than {limit + 1} characters [json-pointer:{pointer}]")
    if problems:
        raise SlackError(
            "invalid_blocks",
            errors=problems,
            response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
        )
    return blocks


def page_limit(params: Params, *, default: int, maximum: int) -> int:
    raw = params.get("limit")
    if raw in (None, "", 0, "0"):
        return default
    try:
        return max(1, min(int(raw), maximum))
    except (TypeError, ValueError):
        raise SlackError("invalid_limit") from None


def in_window(messages: list[Params], params: Params) -> list[Params]:
    """Messages strictly between `oldest` and `latest` (inclusive with `inclusive=1`)."""
    inclusive = flag(params, "inclusive")
    oldest, latest = optional(params, "oldest"), optional(params, "latest")
    low = ts_to_micros(oldest) if oldest else None
    high = ts_to_micros(latest) if latest else None

    def keep(m: Params) -> bool:
        at = ts_to_micros(m["ts"])
        if low is not None and (at < low or (at == low and not inclusive)):
            return False
        return not (high is not None and (at > high or (at == high and not inclusive)))

    return [m for m in messages if keep(m)]


def cursor(message: Params) -> str:
    """Slack-style cursor: base64 of `next_ts:<ts without the dot>`."""
    return base64.b64encode(f"next_ts:{ts_to_micros(message['ts'])}".encode()).decode()


def cursor_index(messages: list[Params], params: Params, *, newest_first: bool) -> int:
    """Index of the first message of the page `cursor` points at (0 without a cursor)."""
    raw = optional(params, "cursor")
    if raw is None:
        return 0
    try:
        prefix, _, value = base64.b64decode(raw, validate=True).decode().partition(":")
        at = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SlackError("invalid_cursor") from None
    if prefix != "next_ts":
        raise SlackError("invalid_cursor")
    for i, m in enumerate(messages):
        micros = ts_to_micros(m["ts"])
        if (micros <= at) if newest_first else (micros >= at):
            return i
    return len(messages)
