"""Tool calls: the pieces a stream carries are put back together however they are split, and the
round trip's messages have OpenAI's shape. Pure functions first, then through the client and the
fake RelayDance (real SSE, bytes split anywhere)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import UpstreamBadRequest
from bot.llm.client import ChatRequest
from bot.llm.tools import (
    ToolCall,
    ToolCallAssembler,
    ToolCallDelta,
    assistant_message,
    function_tool,
    parse_arguments,
    tool_call_deltas,
    tool_message,
)
from bot.llm.wire import answer_delta, chunk_delta
from tests.bot.llm.helpers import MODEL, MakeClient, collect, collect_until_error
from tests.fakes.relaydance import Call, FakeRelayDance, Script

# ensure_ascii: "é" and the emoji travel as \u escapes, which a fragment may cut in half.
ARGUMENTS = json.dumps({"query": "café rotation 🔑", "channel": "#ops"}, ensure_ascii=True)
SECOND = json.dumps({"permalink": "https://fake.slack.com/archives/COPS/p1763000000000100"})
TOOLS = [function_tool("search_messages", "Search.", {"type": "object", "properties": {}})]


def fragments(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in zip(points, points[1:], strict=False)]


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=30), st.booleans())
def test_arguments_split_anywhere_and_interleaved_come_back_whole(cuts: list[int], interleave: bool) -> None:
    first = [ToolCallDelta(0, id="call_a", name="search_messages")] + [
        ToolCallDelta(0, arguments=f) for f in fragments(ARGUMENTS, cuts)
    ]
    second = [ToolCallDelta(1, id="call_b", name="get_thread")] + [
        ToolCallDelta(1, arguments=f) for f in fragments(SECOND, cuts[::-1])
    ]
    order = (
        [p for pair in zip(first, second, strict=False) for p in pair]
        + first[len(second) :]
        + second[len(first) :]
        if interleave
        else first + second
    )
    assembler = ToolCallAssembler()
    for piece in order:
        assembler.feed([piece])
    a, b = assembler.calls()
    assert (a.id, a.name, b.id, b.name) == ("call_a", "search_messages", "call_b", "get_thread")
    assert parse_arguments(a) == {"query": "café rotation 🔑", "channel": "#ops"}
    assert parse_arguments(b)["permalink"].endswith("p1763000000000100")


def test_a_call_without_an_id_gets_one_and_the_calls_come_in_index_order() -> None:
    assembler = ToolCallAssembler()
    assert not assembler
    assembler.feed([ToolCallDelta(2, name="get_thread", arguments="{}"), ToolCallDelta(0, id="x", name="a")])
    assert assembler
    assert assembler.calls() == [ToolCall("x", "a", ""), ToolCall("call_2", "get_thread", "{}")]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"query": "vault"', "not valid JSON"),
        ('["vault"]', "must be a JSON object"),
        ("nonsense", "not valid JSON"),
    ],
)
def test_bad_arguments_say_what_is_wrong(raw: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_arguments(ToolCall("c", "search_messages", raw))


def test_empty_arguments_are_no_arguments() -> None:
    assert parse_arguments(ToolCall("c", "get_thread", "  ")) == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        ("x", ()),
        ([1, {"index": 0, "id": "", "function": {"name": 5, "arguments": None}}], (ToolCallDelta(0),)),
        ([{"function": {"arguments": "{"}}], (ToolCallDelta(0, arguments="{"),)),
        ([{"index": True, "function": "x"}], (ToolCallDelta(0),)),  # a bool is not an index
    ],
)
def test_odd_tool_call_pieces_are_read_safely(value: object, expected: tuple[ToolCallDelta, ...]) -> None:
    assert tool_call_deltas(value) == expected


def test_the_chunk_readers_carry_tool_calls() -> None:
    piece = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    chunk: dict[str, Any] = {
        "choices": [{"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}]
    }
    delta = chunk_delta(chunk)
    assert delta is not None and delta.tool_calls == (ToolCallDelta(0, id="call_1", name="f"),)
    whole = {
        "choices": [
            {
                "message": {"role": "assistant", "content": None, "tool_calls": [piece]},
                "finish_reason": "tool_calls",
            }
        ]
    }
    answer = answer_delta(whole)
    assert answer is not None and answer.finish_reason == "tool_calls" and len(answer.tool_calls) == 1


def test_the_request_body_offers_tools_and_the_round_trip_messages() -> None:
    call = ToolCall("call_1", "search_messages", '{"query": "vault"}')
    messages = [
        {"role": "user", "content": "q"},
        assistant_message("", [call]),
        tool_message(call, "no threads"),
    ]
    body = ChatRequest(model=MODEL, messages=messages, tools=TOOLS, tool_choice="auto").to_body(stream=True)
    assert body["tools"] == TOOLS and body["tool_choice"] == "auto"
    assert body["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "search_messages", "arguments": call.arguments},
            }
        ],
    }
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "no threads"}
    plain = ChatRequest(model=MODEL, messages=messages[:1], tool_choice="none").to_body(stream=False)
    assert "tools" not in plain and "tool_choice" not in plain  # tool_choice only with tools


@pytest.mark.parametrize("split", [1, (1, 2, 3, 5, 7), 64])
async def test_streamed_calls_split_and_interleaved_arrive_whole(
    fake: FakeRelayDance, make_client: MakeClient, split: int | tuple[int, ...]
) -> None:
    fake.push(
        Script.tool_calls(
            Call("search_messages", ARGUMENTS),
            Call("get_thread", SECOND),
            text=["Let me look. "],
            arg_split=(1, 3, 2),
            interleave=True,
            split=split,
        )
    )
    request = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "q"}], tools=TOOLS)
    deltas = await collect(make_client(), request)
    assembler = ToolCallAssembler()
    for delta in deltas:
        assembler.feed(delta.tool_calls)
    first, second = assembler.calls()
    assert parse_arguments(first)["query"] == "café rotation 🔑" and second.name == "get_thread"
    assert first.id != second.id and first.id.startswith("call_")
    assert "".join(d.text for d in deltas) == "Let me look. "
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["tool_calls"]
    # Interleaved as OpenAI may: the fragments of the two calls alternate on the wire.
    order = [d.tool_calls[0].index for d in deltas if d.tool_calls]
    assert order[:4] == [0, 1, 0, 1]


async def test_a_stream_of_only_tool_calls_is_not_a_first_token_timeout(
    fake: FakeRelayDance, make_client: MakeClient
) -> None:
    """Tool-call pieces count as the answer starting: after the first one, silences are the idle
    timeout's (1 s), not the first token's (0.3 s, which the whole stream outlasts)."""
    fake.push(Script.tool_calls(Call("search_messages", ARGUMENTS), arg_split=8, pace=0.1))
    request = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "q"}], tools=TOOLS)
    deltas = await collect(make_client(first_token_timeout=0.3, idle_timeout=1.0), request)
    assembler = ToolCallAssembler()
    for delta in deltas:
        assembler.feed(delta.tool_calls)
    assert parse_arguments(assembler.calls()[0])["channel"] == "#ops"


async def test_the_fake_refuses_a_tool_result_that_answers_no_call(
    fake: FakeRelayDance, make_client: MakeClient
) -> None:
    """As OpenAI does: a `tool` message must answer a call made just before it, and every call
    must be answered (so the bot's round trips are checked for real)."""
    call = ToolCall("call_1", "search_messages", "{}")
    stray = [{"role": "user", "content": "q"}, tool_message(call, "x")]
    unanswered = [
        {"role": "user", "content": "q"},
        assistant_message("", [call]),
        {"role": "user", "content": "q"},
    ]
    for messages in (stray, unanswered):
        _, error = await collect_until_error(
            make_client(), ChatRequest(model=MODEL, messages=messages, tools=TOOLS)
        )
        assert isinstance(error, UpstreamBadRequest) and "tool" in error.detail


async def test_the_fake_leaves_calls_out_when_no_tools_are_offered(
    fake: FakeRelayDance, make_client: MakeClient
) -> None:
    fake.push(Script.tool_calls(Call("search_messages", ARGUMENTS), text=["Plain answer."]))
    deltas = await collect(make_client())
    assert not any(d.tool_calls for d in deltas)
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]


async def test_a_whole_json_answer_carries_its_tool_calls(
    fake: FakeRelayDance, make_client: MakeClient
) -> None:
    fake.push(Script.tool_calls(Call("get_thread", SECOND, id="call_z"), as_json=True))
    request = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "q"}], tools=TOOLS)
    [delta] = await collect(make_client(), request)
    assert delta.tool_calls == (ToolCallDelta(0, id="call_z", name="get_thread", arguments=SECOND),)
