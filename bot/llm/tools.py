"""Tool calls in OpenAI's chat-completions shape: the tool schema offered, the pieces a stream
sends, putting those pieces back together, and the messages that carry a round trip.

A streamed call arrives in pieces under `choices[0].delta.tool_calls`: each piece names the call
by `index` (several calls may interleave), the first piece of a call carries its `id`, `type` and
`function.name`, and `function.arguments` (a JSON text) comes in fragments that may end anywhere,
even inside a `\\u00e9` escape. The fragments are joined as text and parsed only once the stream
has ended, so where a fragment ends never matters. All pure data handling, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ToolCall",
    "ToolCallAssembler",
    "ToolCallDelta",
    "assistant_message",
    "function_tool",
    "parse_arguments",
    "tool_call_deltas",
    "tool_message",
]


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """One piece of one streamed tool call; every part but `index` may be missing."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A whole tool call: `arguments` is the JSON text as the model wrote it (maybe not JSON)."""

    id: str
    name: str
    arguments: str


def tool_call_deltas(value: object) -> tuple[ToolCallDelta, ...]:
    """The `tool_calls` list of a stream delta (or a whole answer's message) as pieces; entries
    that are not objects are skipped, and a missing `index` means the entry's position."""
    if not isinstance(value, list):
        return ()
    pieces: list[ToolCallDelta] = []
    for position, entry in enumerate(value):
        if not isinstance(entry, dict):
            continue
        index = entry.get("index")
        function = entry.get("function")
        function = function if isinstance(function, dict) else {}
        ident, name, arguments = entry.get("id"), function.get("name"), function.get("arguments")
        pieces.append(
            ToolCallDelta(
                index=index if isinstance(index, int) and not isinstance(index, bool) else position,
                id=ident if isinstance(ident, str) and ident else None,
                name=name if isinstance(name, str) and name else None,
                arguments=arguments if isinstance(arguments, str) else "",
            )
        )
    return tuple(pieces)


@dataclass
class _Partial:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAssembler:
    """Collects the pieces of one answer's tool calls, in any interleaving, into whole calls."""

    def __init__(self) -> None:
        self._calls: dict[int, _Partial] = {}

    def feed(self, pieces: Iterable[ToolCallDelta]) -> None:
        for piece in pieces:
            call = self._calls.setdefault(piece.index, _Partial())
            if piece.id is not None and call.id is None:
                call.id = piece.id
            if piece.name is not None:
                # The name comes whole in the first piece; a relay that splits it is joined too.
                call.name = piece.name if not call.name or call.name == piece.name else call.name + piece.name
            if piece.arguments:
                call.arguments.append(piece.arguments)

    def __bool__(self) -> bool:
        return bool(self._calls)

    def calls(self) -> list[ToolCall]:
        """The calls in index order; one without an id gets a made-up one (the round trip needs
        an id to answer to), one without a name is kept so the model hears it was wrong."""
        return [
            ToolCall(id=call.id or f"call_{index}", name=call.name, arguments="".join(call.arguments))
            for index, call in sorted(self._calls.items())
        ]


def parse_arguments(call: ToolCall) -> dict[str, Any]:
    """The call's arguments as an object; ValueError saying what is wrong otherwise. Empty text
    counts as no arguments (some servers send none for a call without parameters)."""
    if not call.arguments.strip():
        return {}
    try:
        value = json.loads(call.arguments)
    except ValueError as exc:
        raise ValueError(f"the arguments are not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError("the arguments must be a JSON object")
    return value


def function_tool(name: str, description: str, parameters: Mapping[str, object]) -> dict[str, object]:
    """One entry of a request's `tools`: `{"type": "function", "function": {...}}`."""
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": dict(parameters)},
    }


def assistant_message(text: str, calls: Sequence[ToolCall]) -> dict[str, object]:
    """The model's turn that asked for `calls`, as it goes back in the next request."""
    return {
        "role": "assistant",
        "content": text or None,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls
        ],
    }


def tool_message(call: ToolCall, content: str) -> dict[str, str]:
    """A tool's result, answering the call with the same id."""
    return {"role": "tool", "tool_call_id": call.id, "content": content}
