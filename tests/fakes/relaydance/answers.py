"""What the fake RelayDance writes: SSE framing (`Writer`), chunks, whole answers and error bodies."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from aiohttp import web

from tests.fakes.relaydance.script import Call, Event, Piece, Script

__all__ = [
    "Writer",
    "chunk",
    "completion",
    "error_response",
    "invalid_reason",
    "may_call_tools",
    "message_chars",
    "piece_event",
    "tool_call_chunks",
    "wants_usage",
]


class Writer:
    """Writes SSE lines with the script's framing, slicing and keep-alives."""

    def __init__(self, response: web.StreamResponse, script: Script) -> None:
        self.response = response
        self.script = script
        self.newline = "\r\n" if script.crlf else "\n"
        sizes = script.split if isinstance(script.split, tuple) else (script.split,) if script.split else ()
        self._sizes: Iterator[int] | None = itertools.cycle(sizes) if sizes else None

    async def line(self, text: str) -> None:
        await self._write((text + self.newline).encode())

    async def event(self, payload: object) -> None:
        await self._write(
            f"data: {json.dumps(payload, ensure_ascii=False)}{self.newline}{self.newline}".encode()
        )

    async def wait(self, seconds: float) -> None:
        """Sleep, sending keep-alive comments meanwhile if the script asks for them."""
        every = self.script.keepalive
        if every is None:
            if seconds > 0:
                await asyncio.sleep(seconds)
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            await asyncio.sleep(min(every, left))
            if loop.time() < end:
                await self.line(": keep-alive")
                await self.line("")

    async def raw(self, data: bytes) -> None:
        await self._write(data)

    async def _write(self, data: bytes) -> None:
        if self._sizes is None:
            await self.response.write(data)
            return
        while data:
            size = next(self._sizes)
            await self.response.write(data[:size])
            data = data[size:]
            await asyncio.sleep(self.script.split_pause)


def error_response(
    status: int,
    message: str,
    kind: str,
    code: str | None,
    headers: dict[str, str] | None = None,
    *,
    param: str | None = None,
) -> web.Response:
    """An OpenAI-shaped error: `{"error": {"message", "type", "param", "code"}}`."""
    error = {"message": message, "type": kind, "param": param, "code": code}
    return web.json_response({"error": error}, status=status, headers=headers)


def invalid_reason(body: Any) -> str:
    """Why the chat request body is unacceptable, or ""."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return "The request body must be JSON with a string `model`."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "`messages` must be a non-empty array."
    problem = _messages_problem(messages) or _tools_problem(body)
    if problem:
        return problem
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature <= 2):
        return f"Invalid 'temperature': {temperature!r}. Expected a value between 0 and 2."
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            return "Invalid type for 'stream_options': expected an object."
        if not body.get("stream"):
            return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
    return ""


def _messages_problem(messages: list[Any]) -> str:
    """OpenAI's rules for the messages: a role and string content each, except an assistant
    message with `tool_calls` (content may be null); every tool call answered by a `tool` message
    with its id before the next other message, and no `tool` message answering nothing."""
    waiting: set[str] = set()  # tool call ids not answered yet
    for message in messages:
        if not isinstance(message, dict):
            return "Each message must be an object."
        role, content = message.get("role"), message.get("content")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not isinstance(content, str):
                return "A tool message needs a string 'tool_call_id' and a string content."
            if call_id not in waiting:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'."
                )
            waiting.discard(call_id)
            continue
        if waiting:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(sorted(waiting))}"
            )
        calls = message.get("tool_calls")
        if role == "assistant" and calls is not None:
            if (
                not isinstance(calls, list)
                or not calls
                or (content is not None and not isinstance(content, str))
            ):
                return "'tool_calls' must be a non-empty array, and content a string or null."
            for call in calls:
                function = call.get("function") if isinstance(call, dict) else None
                if (
                    not isinstance(function, dict)
                    or not isinstance(call.get("id"), str)
                    or call.get("type") != "function"
                    or not isinstance(function.get("name"), str)
                    or not isinstance(function.get("arguments"), str)
                ):
                    return "Each tool call needs an id, type 'function' and a function name and arguments."
                waiting.add(call["id"])
            continue
        if role == "user" and isinstance(content, list):
            # OpenAI's content parts: text, and images as URLs (https or data:) for vision models.
            if not content or not all(_valid_part(part) for part in content):
                return "Invalid content part: expected {type: text} or {type: image_url, image_url: {url}}."
            continue
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            return "Each message needs a role (system, user, assistant or tool) and a string content."
    if waiting:
        return f"The following tool_call_ids did not have response messages: {', '.join(sorted(waiting))}"
    return ""


def _tools_problem(body: dict[str, Any]) -> str:
    """`tools` as OpenAI takes them (function tools with a name), and `tool_choice` only with them."""
    tools, choice = body.get("tools"), body.get("tool_choice")
    if tools is not None:
        if not isinstance(tools, list):
            return "Invalid type for 'tools': expected an array."
        for tool in tools:
            function = tool.get("function") if isinstance(tool, dict) else None
            if tool.get("type") != "function" or not isinstance(function, dict) or not function.get("name"):
                return "Each tool needs type 'function' and a function with a name."
            if not isinstance(function.get("parameters", {}), dict):
                return "A function's 'parameters' must be a JSON schema object."
    if choice is not None:
        if not tools:
            return (
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
            )
        if choice not in ("none", "auto", "required") and not (
            isinstance(choice, dict) and isinstance((choice.get("function") or {}).get("name"), str)
        ):
            return "Invalid value for 'tool_choice'."
    return ""


def may_call_tools(body: dict[str, Any]) -> bool:
    """Whether the request lets the model call a tool: it offers some, and not with "none"."""
    return bool(body.get("tools")) and body.get("tool_choice") != "none"


def tool_call_chunks(cid: str, model: str, calls: Sequence[Call], script: Script) -> list[dict[str, Any]]:
    """The chunks that stream `calls`, shaped as OpenAI's: per call a first piece with `index`,
    `id`, `type` and `function.name` (empty arguments), then argument fragments with only
    `index` and `function.arguments`; in turn across the calls with `script.interleave`."""
    sizes = itertools.cycle(script.arg_split if isinstance(script.arg_split, tuple) else (script.arg_split,))
    per_call: list[list[dict[str, Any]]] = []
    for index, call in enumerate(calls):
        first = {
            "index": index,
            "id": call.id or f"call_{cid.removeprefix('chatcmpl-')}_{index}",
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        pieces = [first]
        text = call.arguments
        while text:
            size = max(1, next(sizes))
            pieces.append({"index": index, "function": {"arguments": text[:size]}})
            text = text[size:]
        per_call.append(pieces)
    if script.interleave:
        ordered = [p for group in itertools.zip_longest(*per_call) for p in group if p is not None]
    else:
        ordered = [p for pieces in per_call for p in pieces]
    return [chunk(cid, model, {"tool_calls": [piece]}, None) for piece in ordered]


def _valid_part(part: object) -> bool:
    if not isinstance(part, dict):
        return False
    if part.get("type") == "text":
        return isinstance(part.get("text"), str)
    image = part.get("image_url")
    return part.get("type") == "image_url" and isinstance(image, dict) and isinstance(image.get("url"), str)


def content_text(content: str | list[dict[str, Any]]) -> str:
    """A message's text: the string, or its text parts joined."""
    if isinstance(content, str):
        return content
    return "\n".join(part["text"] for part in content if part.get("type") == "text")


def wants_usage(body: dict[str, Any]) -> bool:
    """Whether a (valid) streamed request asked for the usage chunk."""
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def message_chars(body: dict[str, Any]) -> int:
    """Characters of every message's content in a (valid) chat request."""
    return sum(len(content_text(message.get("content") or "")) for message in body["messages"])


def chunk(cid: str, model: str, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def piece_event(cid: str, model: str, piece: Piece) -> Any:
    """The `data:` payload that carries one stream piece."""
    if isinstance(piece, Event):
        return piece.payload
    return chunk(cid, model, {"content": piece} if isinstance(piece, str) else dict(piece), None)


def completion(model: str, text: str, script: Script, calls: Sequence[Call] = ()) -> dict[str, Any]:
    message: dict[str, Any] = (
        dict(script.message)
        if script.message is not None
        else {"role": "assistant", "content": text or (None if calls else "")}
    )
    if calls:
        message["tool_calls"] = [
            {
                "id": call.id or f"call_fake{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for index, call in enumerate(calls)
        ]
    answer: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": script.finish_reason,
            }
        ],
    }
    if script.usage is not None:
        prompt, completion, total = script.usage
        answer["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    return answer
