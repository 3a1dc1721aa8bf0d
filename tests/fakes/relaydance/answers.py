"""What the fake RelayDance writes: SSE framing (`Writer`), chunks, whole answers and error bodies."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from tests.fakes.relaydance.script import Event, Piece, Script

__all__ = [
    "Writer",
    "chunk",
    "completion",
    "error_response",
    "invalid_reason",
    "message_chars",
    "piece_event",
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
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant"):
            return "Each message needs a role (system, user or assistant) and a string content."
        content = message.get("content")
        if isinstance(content, list) and message["role"] == "user":
            # OpenAI's content parts: text, and images as URLs (https or data:) for vision models.
            if not content or not all(_valid_part(part) for part in content):
                return "Invalid content part: expected {type: text} or {type: image_url, image_url: {url}}."
        elif not isinstance(content, str):
            return "Each message needs a role (system, user or assistant) and a string content."
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
    return sum(len(content_text(message["content"])) for message in body["messages"])


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


def completion(model: str, text: str, script: Script) -> dict[str, Any]:
    message = dict(script.message) if script.message is not None else {"role": "assistant", "content": text}
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
