"""A loopback RelayDance for tests and benchmarks: OpenAI-style chat completions over SSE.

`FakeRelayDance` is a real aiohttp server on 127.0.0.1 (any free port), started inside the test's
event loop. Point the client at it with `base_url=fake.base_url, api_key=fake.api_key`, or use
the `relaydance_fake` fixture.

- `POST /v1/chat/completions`: checks `Authorization: Bearer <api_key>` (401, OpenAI error shape,
  otherwise), validates the body (400 for bad JSON / messages / temperature, or `stream_options`
  without `stream`; 404 for a model not in `fake.models`; 400 `context_length_exceeded` when the
  messages, with the answer's `max_tokens`, hold more than `fake.context_limit_chars` characters,
  in OpenAI's, xAI's or llama.cpp's words, `fake.context_wording`), then plays the next `Script`
  pushed with `push()` - or `fake.default`, which echoes the last user message (`echo_answer()`)
  in word-sized pieces. A piece may also be a whole `delta` object (reasoning, content parts, a
  refusal) or an `Event` written as given (several choices, an error object). Tool calls
  (`Script.tool_calls`, `Call`) stream in OpenAI's chunk shape when the request offers `tools`;
  the messages are checked as OpenAI checks them (every `tool_calls` entry answered by a `tool`
  message with its id); `Script.decide` picks the answer from the request (e.g. answer
  differently once the last message is a tool result). A stream ends with
  a `usage` chunk only if the script has usage and the request asked with
  `"stream_options": {"include_usage": true}`, as OpenAI does (`usage_in_finish`: in the
  finish_reason chunk instead).
- `GET /v1/models`: the model list, unless a script was pushed with `push(..., route="models")`
  (only its status/error/hang part applies there).

Every request is recorded as a `Request` in `fake.requests` (method, path, headers, JSON body,
arrival time, when the first and latest content pieces were written, client port, and whether the
client went away before the answer was complete);
`wait_requests()` and `Request.wait_disconnected()` await those without polling.

Modules: `script` (how one request is answered), `answers` (the bytes written: SSE framing,
chunks, error bodies), `server` (the aiohttp app, its routes and the recorded requests).
"""

from tests.fakes.relaydance.script import (
    CONTEXT_LIMIT_TOKENS,
    Call,
    Event,
    Script,
    echo_answer,
    last_message,
)
from tests.fakes.relaydance.server import API_KEY, MODELS, FakeRelayDance, Request, relaydance_fake

__all__ = [
    "API_KEY",
    "CONTEXT_LIMIT_TOKENS",
    "Call",
    "Event",
    "MODELS",
    "FakeRelayDance",
    "Request",
    "Script",
    "echo_answer",
    "last_message",
    "relaydance_fake",
]
