"""The request body the client sends, built without a server."""

from __future__ import annotations

from bot.llm.wire import ChatRequest

MESSAGES = [{"role": "user", "content": "hi"}]


def test_a_streamed_request_asks_for_usage() -> None:
    body = ChatRequest(model="grok-4.3", messages=MESSAGES).to_body(stream=True)

    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_a_whole_answer_request_has_no_stream_options() -> None:
    body = ChatRequest(model="grok-4.3", messages=MESSAGES, max_tokens=5).to_body(stream=False)

    assert body == {"model": "grok-4.3", "messages": MESSAGES, "stream": False, "max_tokens": 5}
