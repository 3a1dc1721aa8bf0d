"""What goes over the wire to RelayDance and back: the request, the answer's pieces, and readers
for the JSON the server sends (stream chunks, whole answers, error bodies, Retry-After).

Everything here is pure data handling; `bot.llm.client` does the networking.
"""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ChatDelta",
    "ChatRequest",
    "Usage",
    "answer_delta",
    "chunk_delta",
    "error_message",
    "parse_retry_after",
    "parse_usage",
]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class ChatDelta:
    """A piece of the answer. `finish_reason` ("stop", "length", …) and `usage` come near the end."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: Sequence[Mapping[str, str]]
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: Sequence[str] | None = None

    def to_body(self, *, stream: bool) -> dict[str, object]:
        """The request body; unset options are left out so the server's defaults apply.

        A streamed request asks for `usage` too: OpenAI-style servers send it, in a last chunk
        with empty `choices`, only when `stream_options.include_usage` is set.
        """
        body: dict[str, object] = {
            "model": self.model,
            "messages": [dict(message) for message in self.messages],
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        for name in ("temperature", "max_tokens", "top_p"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.stop is not None:
            body["stop"] = list(self.stop)
        return body


def chunk_delta(chunk: Mapping[str, Any]) -> ChatDelta | None:
    """The delta in one `chat.completion.chunk` object, or None when it carries nothing."""
    text, finish_reason = "", None
    choices = chunk.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = choice.get("delta")
        if isinstance(delta, dict):
            content = delta.get("content")
            if isinstance(content, str):
                text = content
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            finish_reason = reason
    usage = parse_usage(chunk.get("usage"))
    if text or finish_reason or usage:
        return ChatDelta(text, finish_reason, usage)
    return None


def answer_delta(answer: Mapping[str, Any]) -> ChatDelta | None:
    """A whole `chat.completion` object as one delta, or None when it carries nothing."""
    text, finish_reason = "", None
    choices = answer.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            text = message["content"]
        reason = choices[0].get("finish_reason")
        finish_reason = reason if isinstance(reason, str) and reason else None
    usage = parse_usage(answer.get("usage"))
    return ChatDelta(text, finish_reason, usage) if text or finish_reason or usage else None


def parse_usage(value: object) -> Usage | None:
    """A `usage` object as `Usage`; None if absent or not numbers."""
    if not isinstance(value, dict):
        return None
    try:
        return Usage(
            prompt_tokens=int(value.get("prompt_tokens") or 0),
            completion_tokens=int(value.get("completion_tokens") or 0),
            total_tokens=int(value.get("total_tokens") or 0),
        )
    except (TypeError, ValueError):
        return None


def error_message(body: object) -> str:
    """The human part of an OpenAI-shaped error (`{"error": {"message": …}}`), else the raw text."""
    parsed: Any = body
    if isinstance(body, bytes | str):
        try:
            parsed = json.loads(body)
        except ValueError:
            return body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed)
        if isinstance(error, str):
            return error
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, str) and message:
                kind = error.get("type") or error.get("code")
                return f"{message} ({kind})" if isinstance(kind, str) and kind else message
    return json.dumps(parsed)[:1000]


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date; None if absent/bad.

    Fractional seconds are accepted too (not in RFC 9110, but harmless and handy in tests).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
