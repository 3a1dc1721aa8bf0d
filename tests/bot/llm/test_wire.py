"""The request body the client sends, and readers of what comes back, built without a server."""

from __future__ import annotations

import pytest

from bot.llm.wire import ChatDelta, ChatRequest, Usage, answer_delta, chunk_delta, error_message

MESSAGES = [{"role": "user", "content": "hi"}]


def test_a_streamed_request_asks_for_usage() -> None:
    body = ChatRequest(model="grok-4.3", messages=MESSAGES).to_body(stream=True)

    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_a_whole_answer_request_has_no_stream_options() -> None:
    body = ChatRequest(model="grok-4.3", messages=MESSAGES, max_tokens=5).to_body(stream=False)

    assert body == {"model": "grok-4.3", "messages": MESSAGES, "stream": False, "max_tokens": 5}


# -- reading chunks and whole answers ----------------------------------------------------------


def chunk(delta: object, **choice: object) -> dict[str, object]:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, **choice}]}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (chunk({"content": "hi"}), ChatDelta("hi")),
        (chunk({"reasoning_content": "r", "reasoning": "r"}), ChatDelta(reasoning="r")),  # vLLM sends both
        (
            chunk({"reasoning_details": [{"type": "reasoning.summary", "summary": "s"}]}),
            ChatDelta(reasoning="s"),
        ),
        (chunk({"reasoning_details": [{"type": "reasoning.encrypted", "data": "xyz"}]}), None),
        (chunk({"content": ["bare ", {"type": "text", "text": "parts"}]}), ChatDelta("bare parts")),
        (chunk({"content": [{"type": "image_url", "image_url": {"url": "x"}}]}), None),
        (
            chunk({"content": [{"type": "thinking", "thinking": "t"}, {"type": "text", "text": "a"}]}),
            ChatDelta("a", reasoning="t"),
        ),
        (chunk({"content": [{"type": "reasoning", "text": "t"}]}), ChatDelta(reasoning="t")),
        (chunk({"content": [{"type": "refusal", "refusal": "no"}]}), ChatDelta(refusal="no")),
        (
            chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "x"}, "y", 3]}]}),
            ChatDelta(reasoning="xy"),
        ),
        (chunk({"content": None, "refusal": None, "reasoning_content": None}), None),
        (
            chunk({"content": [None, 3, {"type": "thinking", "thinking": 5}], "reasoning_details": ["x"]}),
            None,
        ),
        (chunk("not a dict", finish_reason="stop"), ChatDelta(finish_reason="stop")),
        ({"choices": [{"index": 1, "delta": {"content": "other"}}]}, None),
        ({"choices": ["junk", {"delta": {"content": "first"}}]}, ChatDelta("first")),
        (
            {"choices": None, "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}},
            ChatDelta(usage=Usage(1, 1, 2)),
        ),
    ],
)
def test_chunk_delta(payload: dict[str, object], expected: ChatDelta | None) -> None:
    assert chunk_delta(payload) == expected


def test_answer_delta_reads_choice_zero_of_a_whole_answer() -> None:
    answer = {
        "object": "chat.completion",
        "choices": [
            {"index": 1, "message": {"content": "second"}, "finish_reason": "stop"},
            {
                "index": 0,
                "message": {"content": None, "reasoning": "why", "refusal": "no"},
                "finish_reason": "stop",
            },
        ],
    }
    assert answer_delta(answer) == ChatDelta("", "stop", None, "why", "no")
    assert answer_delta({"choices": []}) is None


def test_error_message_reads_a_vllm_error_object() -> None:
    vllm = {"object": "error", "message": "bad input", "type": "BadRequestError", "param": None, "code": 400}
    assert error_message(vllm) == "bad input (BadRequestError)"
