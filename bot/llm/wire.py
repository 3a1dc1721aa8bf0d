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

from bot.llm.tools import ToolCallDelta, tool_call_deltas

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


@dataclass(slots=True)  # not frozen: one is built per token, and a frozen __init__ costs ~3x
class ChatDelta:
    """A piece of the answer, not to be changed once made (build another with `replace`).
    `finish_reason` ("stop", "length", "tool_calls", …) and `usage` come near the end;
    `tool_calls` are pieces of tool calls (`bot.llm.tools` puts them back together).

    `reasoning` is what a reasoning model thinks before (or while) it answers: it proves the model
    is working, but it is never answer text and never stored as the answer. `refusal` is the
    model declining to answer (OpenAI's `refusal` field); the client shows it as text.
    """

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    reasoning: str = ""
    refusal: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: Sequence[Mapping[str, object]]  # content: a string, or a list of parts (images)
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: Sequence[str] | None = None
    tools: Sequence[Mapping[str, object]] | None = None  # OpenAI's tool schema
    tool_choice: str | Mapping[str, object] | None = None  # "auto", "none", "required" or one tool

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
        if self.tools:
            body["tools"] = [dict(tool) for tool in self.tools]
            if self.tool_choice is not None:
                body["tool_choice"] = self.tool_choice
        return body


def chunk_delta(chunk: Mapping[str, Any]) -> ChatDelta | None:
    """The delta in one `chat.completion.chunk` object (choice 0 only), or None when it carries
    nothing: no text, reasoning, refusal, tool call, finish reason or usage."""
    text = reasoning = refusal = ""
    finish_reason = None
    calls: tuple[ToolCallDelta, ...] = ()
    choice = _first_choice(chunk.get("choices"))
    if choice is not None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            text, reasoning, refusal = _message_parts(delta)
            if "tool_calls" in delta:
                calls = tool_call_deltas(delta["tool_calls"])
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            finish_reason = reason
    usage = parse_usage(chunk.get("usage"))
    if text or reasoning or refusal or finish_reason or usage or calls:
        return ChatDelta(text, finish_reason, usage, reasoning, refusal, calls)
    return None


def answer_delta(answer: Mapping[str, Any]) -> ChatDelta | None:
    """A whole `chat.completion` object (choice 0) as one delta, or None when it carries nothing."""
    text = reasoning = refusal = ""
    finish_reason = None
    calls: tuple[ToolCallDelta, ...] = ()
    choice = _first_choice(answer.get("choices"))
    if choice is not None:
        message = choice.get("message")
        if isinstance(message, dict):
            text, reasoning, refusal = _message_parts(message)
            calls = tool_call_deltas(message.get("tool_calls"))
        reason = choice.get("finish_reason")
        finish_reason = reason if isinstance(reason, str) and reason else None
    usage = parse_usage(answer.get("usage"))
    if text or reasoning or refusal or finish_reason or usage or calls:
        return ChatDelta(text, finish_reason, usage, reasoning, refusal, calls)
    return None


def _first_choice(choices: object) -> dict[str, Any] | None:
    """The choice with `index` 0 (a choice without an index counts as 0): with `n > 1` a server
    interleaves the choices' chunks, in any order, and only the first is the answer."""
    if not isinstance(choices, list):
        return None
    for choice in choices:  # nearly always one item
        if isinstance(choice, dict) and choice.get("index") in _FIRST:
            return choice
    return None


_FIRST = (0, None)


def _message_parts(message: Mapping[str, Any]) -> tuple[str, str, str]:
    """(text, reasoning, refusal) of a stream `delta` or a whole answer's `message`.

    Reasoning comes as `reasoning_content` (DeepSeek, xAI, Qwen), `reasoning` (OpenRouter, vLLM,
    Ollama; servers that send both send the same text, so only one is read), OpenRouter's
    `reasoning_details`, or as parts of a `content` list (Mistral's `thinking` parts). This runs
    per token: the common delta, `{"content": "…"}` alone, returns after one lookup.
    """
    content = message.get("content")
    if len(message) == 1 and type(content) is str:  # most chunks: {"content": "…"}
        return content, "", ""
    text, reasoning, refusal = "", "", ""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text, reasoning, refusal = _content_parts(content)
    said = message.get("reasoning_content")
    if not isinstance(said, str) or not said:
        said = message.get("reasoning")
        if not isinstance(said, str) or not said:
            said = _reasoning_details(message.get("reasoning_details"))
    if said:
        reasoning = said + reasoning
    declined = message.get("refusal")
    if isinstance(declined, str) and declined:
        refusal += declined
    return text, reasoning, refusal


_TEXT_PARTS = frozenset({"text", "output_text"})
_REASONING_PARTS = frozenset({"reasoning", "thinking", "reasoning_text", "summary_text"})


def _content_parts(parts: list[Any]) -> tuple[str, str, str]:
    """A `content` list of typed parts, as (text, reasoning, refusal); other parts are skipped."""
    text: list[str] = []
    reasoning: list[str] = []
    refusal: list[str] = []
    for part in parts:
        if isinstance(part, str):  # a bare string in the list: plain text
            text.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            text.append(_part_text(part.get("text")))
        elif kind in _REASONING_PARTS:
            # {"type": "thinking", "thinking": [{"type": "text", "text": …}]} (Mistral),
            # {"type": "thinking", "thinking": "…"}, {"type": "reasoning", "text": "…"}
            reasoning.append(_part_text(part.get(kind, part.get("text"))))
        elif kind == "refusal":
            refusal.append(_part_text(part.get("refusal")))
    return "".join(text), "".join(reasoning), "".join(refusal)


def _part_text(value: object) -> str:
    """A part's text: a string, or a list of nested text parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            item if isinstance(item, str) else _part_text(item.get("text"))
            for item in value
            if isinstance(item, str | dict)
        )
    return ""


def _reasoning_details(details: object) -> str:
    """OpenRouter's `reasoning_details`: the readable text of its `reasoning.text` and
    `reasoning.summary` items (`reasoning.encrypted` ones hold nothing to read)."""
    if not isinstance(details, list):
        return ""
    out: list[str] = []
    for item in details:
        if isinstance(item, dict):
            value = item.get("text") if item.get("type") == "reasoning.text" else item.get("summary")
            if isinstance(value, str):
                out.append(value)
    return "".join(out)


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
