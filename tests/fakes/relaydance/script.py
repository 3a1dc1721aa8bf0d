"""How the fake RelayDance answers one request: `Script` and what the default echo says."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CONTEXT_LIMIT_TOKENS",
    "Call",
    "ContextWording",
    "Event",
    "Piece",
    "Script",
    "echo_answer",
    "last_message",
    "words",
]

CONTEXT_LIMIT_TOKENS = 131_072  # what `Script.context_length()` says the model's window is
ContextWording = Literal["openai", "xai", "llamacpp"]
"""Whose words a context-length refusal uses (`Script.context_length`)."""


def echo_answer(text: str) -> str:
    """What the default script answers to a last user message `text`."""
    return f"Echo: {text}"


def words(text: str) -> list[str]:
    """Word-sized pieces that join back to `text` exactly."""
    return re.findall(r"\s*\S+\s*", text) or [text]


def last_message(body: dict[str, Any]) -> dict[str, Any]:
    """The request's last message (for `Script.decide`)."""
    message: dict[str, Any] = body["messages"][-1]
    return message


@dataclass(frozen=True)
class Call:
    """A tool call the fake model makes: `arguments` is the JSON text, streamed in fragments."""

    name: str
    arguments: str
    id: str = ""  # "" : call_fake<N>, numbered per request


@dataclass(frozen=True)
class Event:
    """A stream piece written as this exact `data:` payload (several choices, an error object…)."""

    payload: Mapping[str, Any]


Piece = str | Mapping[str, Any] | Event
"""A stream piece: a str is a `{"content": …}` delta, a mapping is the whole `delta` object
(`{"reasoning_content": …}`, `{"content": [parts]}`, `{"refusal": …}`), an `Event` is a whole chunk."""


@dataclass(frozen=True)
class Script:
    """How the fake answers one request.

    Build with `stream()`, `echo()`, `error()`, `context_length()` or `hang()`.

    Stream options:
      first_delay   seconds after the headers (and an empty role delta) before the first piece
      pace          seconds between pieces (tool-call pieces too)
      keepalive     while waiting, send a `: keep-alive` comment every this many seconds
      comments      put a `: ping` comment before every piece
      crlf          frame lines with CRLF instead of LF
      split         write the bytes in slices of this size (or cycle through these sizes), with
                    `split_pause` between slices, so reads end anywhere, even inside a UTF-8 char
      usage         (prompt, completion, total) sent as a final chunk with empty `choices` - in a
                    stream only if the request asked with `stream_options.include_usage`, as
                    OpenAI does; a whole JSON answer always carries it
      usage_in_finish send the usage in the finish_reason chunk instead of a chunk of its own
      finish_reason sent in a last empty delta; None sends none
      error_after   after K pieces send `data: {"error": …}` and end (no [DONE])
      cut_after     after K pieces drop the connection mid-body (no [DONE], no last chunk)
      done          send `data: [DONE]` at the end
      as_json       answer one `chat.completion` JSON object even if the client asked to stream
      message       that answer's `message` object as given (else role and the joined text)
      json_body     that answer's whole body as given instead (an error object sent with 200 …)
      raw_prefix    bytes written as-is right after the headers
      calls         tool calls streamed after the text pieces, as OpenAI streams them: a first
                    piece per call with `index`, `id`, `type` and `function.name` (arguments
                    ""), then `function.arguments` fragments; finish reason "tool_calls". Only
                    when the request offers tools and its `tool_choice` is not "none" (a model
                    cannot call a tool it was not given); otherwise the calls are left out
      arg_split     fragment sizes (characters, cycled) for the arguments
      interleave    send the calls' fragments in turn (0, 1, 0, 1 …) instead of one call after
                    the other
      choose        `decide()`: picks the script from the request body when it arrives
    """

    kind: Literal["stream", "echo", "error", "hang", "decide"] = "stream"
    pieces: tuple[Piece, ...] = ()
    first_delay: float = 0.0
    pace: float = 0.0
    keepalive: float | None = None
    comments: bool = False
    crlf: bool = False
    split: int | tuple[int, ...] | None = None
    split_pause: float = 0.0  # sleep(0) already makes each slice a separate read on loopback
    usage: tuple[int, int, int] | None = None
    finish_reason: str | None = "stop"
    usage_in_finish: bool = False
    error_after: int | None = None
    error_message: str = "The upstream model failed."
    cut_after: int | None = None
    done: bool = True
    as_json: bool = False
    message: Mapping[str, Any] | None = None
    json_body: Mapping[str, Any] | None = None
    status: int = 200
    error_type: str = "server_error"
    error_code: str | None = None
    error_param: str | None = None
    retry_after: str | None = None
    body: bytes | None = None  # raw error body instead of the OpenAI shape
    raw_prefix: bytes = b""  # written as-is right after the headers (odd lines, `event: error` …)
    calls: tuple[Call, ...] = ()
    arg_split: int | tuple[int, ...] = 4
    interleave: bool = False
    choose: Callable[[dict[str, Any]], Script] | None = None

    @classmethod
    def stream(cls, pieces: Sequence[Piece], **options: Any) -> Script:
        """Stream these pieces, e.g. `Script.stream(["Hel", "lo"], pace=0.01)` (see `Piece`)."""
        return cls(kind="stream", pieces=tuple(pieces), **options)

    @classmethod
    def tool_calls(cls, *calls: Call, text: Sequence[str] = (), **options: Any) -> Script:
        """Stream `text` pieces (maybe none), then ask for `calls`, e.g.
        `Script.tool_calls(Call("search_messages", '{"query": "vault"}'), arg_split=3)`."""
        options.setdefault("finish_reason", "tool_calls")
        return cls(kind="stream", pieces=tuple(text), calls=calls, **options)

    @classmethod
    def decide(cls, choose: Callable[[dict[str, Any]], Script]) -> Script:
        """Pick the answer when the request arrives, from its body: e.g. call a tool unless the
        last message is a tool result (`last_message(body)["role"] == "tool"`)."""
        return cls(kind="decide", choose=choose)

    @classmethod
    def echo(cls, **options: Any) -> Script:
        """Stream `echo_answer(last user message)` in word-sized pieces (the default).

        With `max_tokens` in the request, only that many pieces are sent, with finish "length".
        """
        return cls(kind="echo", **options)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "",
        *,
        type: str = "",  # the OpenAI field name
        code: str | None = None,
        param: str | None = None,
        retry_after: float | str | None = None,
        body: bytes | None = None,
    ) -> Script:
        """Answer `status` with `{"error": {"message", "type", "param", "code"}}` (or a raw `body`)."""
        return cls(
            kind="error",
            status=status,
            error_message=message or f"fake error {status}",
            error_type=type or ("server_error" if status >= 500 else "invalid_request_error"),
            error_code=code,
            error_param=param,
            retry_after=None if retry_after is None else str(retry_after),
            body=body,
        )

    @classmethod
    def context_length(
        cls,
        *,
        limit: int = CONTEXT_LIMIT_TOKENS,
        used: int = 140_000,
        wording: ContextWording = "openai",
    ) -> Script:
        """Refuse the request as too long for the model, as the provider of `wording` does.

        openai: HTTP 400 `context_length_exceeded`, "maximum context length is N tokens. However,
        your messages resulted in M tokens."; xai: Grok's "maximum prompt length is N but the
        request contains M tokens." (no code); llamacpp: llama.cpp's server, no numbers at all
        ("exceeds the available context size", type `exceed_context_size_error`, a numeric code).
        """
        if wording == "xai":
            return cls.error(
                400,
                f"This model's maximum prompt length is {limit} but the request contains {used} tokens.",
                type="invalid_request_error",
            )
        if wording == "llamacpp":
            body = {
                "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size, try increasing it",
                    "type": "exceed_context_size_error",
                }
            }
            return cls.error(400, body=json.dumps(body).encode())
        return cls.error(
            400,
            f"This model's maximum context length is {limit} tokens. "
            f"However, your messages resulted in {used} tokens.",
            type="invalid_request_error",
            code="context_length_exceeded",
            param="messages",
        )

    @classmethod
    def hang(cls) -> Script:
        """Accept the request and never answer, not even a status line."""
        return cls(kind="hang")
