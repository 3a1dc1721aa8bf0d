"""Recognise a provider's "the prompt is too long for this model" refusal, and read its numbers.

OpenAI answers HTTP 400 with `code: context_length_exceeded` and "This model's maximum context
length is 8192 tokens. However, your messages resulted in 9000 tokens." Relays and other
providers only word it: xAI "This model's maximum prompt length is 131072 but the request
contains 136973 tokens.", vLLM and DeepSeek "… you requested 5000 tokens (4000 in the messages,
1000 in the completion)", Anthropic-style "prompt is too long: 202609 tokens > 200000 maximum",
Mistral "Prompt contains 40000 tokens … too large for model with 32768 maximum context length",
Gemini "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)",
llama.cpp `exceed_context_size_error`. A tokens-per-minute refusal ("Request too large … on
tokens per minute", `rate_limit_exceeded`) is a rate limit, not this.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["ContextLimit", "context_limit"]

_CODES: Final = frozenset({"context_length_exceeded", "exceed_context_size_error", "context_window_exceeded"})
_WORDS: Final = re.compile(
    r"maximum (?:context|prompt) length|context (?:length|window|size)|prompt is too long"
    r"|too many (?:input )?tokens|maximum number of tokens allowed",
    re.IGNORECASE,
)
_NUMBER: Final = r"(\d[\d,_]*)"
_LIMITS: Final = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"maximum (?:context|prompt) length (?:is|of) {_NUMBER}",
        rf"tokens? > {_NUMBER} maximum",
        rf"{_NUMBER} maximum context length",
        rf"maximum number of tokens allowed \({_NUMBER}\)",
        rf"context (?:window|size|length) (?:is|of) {_NUMBER}",
    )
)
_PROMPTS: Final = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"{_NUMBER} in (?:your prompt|the messages)",
        rf"(?:messages|prompt) resulted in {_NUMBER}",
        rf"request contains {_NUMBER}",
        rf"prompt is too long: {_NUMBER}",
        rf"prompt contains {_NUMBER}",
        rf"input token count \({_NUMBER}\)",
    )
)


@dataclass(frozen=True, slots=True)
class ContextLimit:
    """A context-length refusal: the window and the prompt's size as the provider counted them."""

    limit: int | None
    prompt_tokens: int | None


def context_limit(body: bytes | str) -> ContextLimit | None:
    """The refusal in an error body (OpenAI-shaped JSON or plain text), or None for another error."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    message, code = text, None
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed)
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            code = error.get("code") if isinstance(error.get("code"), str) else None
        elif isinstance(error, str):
            message = error
    if code == "rate_limit_exceeded" or re.search(r"per minute|\bTPM\b", message, re.IGNORECASE):
        return None
    if code not in _CODES and not _WORDS.search(message):
        return None
    return ContextLimit(limit=_first(_LIMITS, message), prompt_tokens=_first(_PROMPTS, message))


def _first(patterns: tuple[re.Pattern[str], ...], message: str) -> int | None:
    for pattern in patterns:
        if match := pattern.search(message):
            return int(re.sub(r"[,_]", "", match.group(1)))
    return None
