"""FakeRelayDance refuses and answers the way OpenAI-style servers do, seen over raw HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fakes.relaydance import Event, FakeRelayDance, Script
from tests.fakes.relaydance.script import ContextWording

MODEL = "grok-4.3"
CONTEXT_LENGTH_BODY = {
    "error": {
        "message": "This model's maximum context length is 131072 tokens. "
        "However, your messages resulted in 140000 tokens.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeRelayDance]:
    async with FakeRelayDance() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


async def chat(http: httpx.AsyncClient, fake: FakeRelayDance, **body: Any) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **body}
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    return await http.post(f"{fake.base_url}/chat/completions", json=body, headers=headers)


def events(response: httpx.Response) -> list[Any]:
    """The `data:` payloads of an SSE answer, JSON-decoded (`[DONE]` kept as the string)."""
    payloads = [line[len("data: ") :] for line in response.text.splitlines() if line.startswith("data: ")]
    return [p if p == "[DONE]" else json.loads(p) for p in payloads]


@pytest.mark.parametrize(
    ("options", "asked"),
    [({"stream_options": {"include_usage": True}}, True), ({"stream_options": {}}, False), ({}, False)],
)
async def test_a_stream_ends_with_usage_only_when_the_request_asks(
    fake: FakeRelayDance, http: httpx.AsyncClient, options: dict[str, Any], asked: bool
) -> None:
    fake.push(Script.stream(["a", "b"], usage=(3, 2, 5)))

    answer = events(await chat(http, fake, stream=True, **options))

    assert answer[-1] == "[DONE]"
    with_usage = [e for e in answer[:-1] if "usage" in e]
    if asked:
        assert with_usage == [answer[-2]]  # the last chunk before [DONE]
        assert answer[-2]["choices"] == []
        assert answer[-2]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    else:
        assert with_usage == []
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in answer[:-1] if e["choices"]) == "ab"


async def test_stream_options_without_stream_are_refused(
    fake: FakeRelayDance, http: httpx.AsyncClient
) -> None:
    response = await chat(http, fake, stream=False, stream_options={"include_usage": True})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_a_context_length_script_refuses_like_openai(
    fake: FakeRelayDance, http: httpx.AsyncClient
) -> None:
    fake.push(Script.context_length())

    response = await chat(http, fake, stream=True)

    assert response.status_code == 400
    assert response.json() == CONTEXT_LENGTH_BODY


async def test_messages_over_the_context_limit_are_refused_before_any_script(http: httpx.AsyncClient) -> None:
    async with FakeRelayDance(context_limit_chars=100) as fake:
        fake.push(Script.stream(["short enough"]))
        too_long = [{"role": "system", "content": "s" * 60}, {"role": "user", "content": "u" * 41}]

        refused = await chat(http, fake, stream=True, messages=too_long)
        answered = await chat(http, fake, stream=True, messages=too_long[:1])

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["param"], error["type"]) == (
        "context_length_exceeded",
        "messages",
        "invalid_request_error",
    )
    assert error["message"] == (
        "This model's maximum context length is 25 tokens. However, your messages resulted in 26 tokens."
    )
    assert answered.status_code == 200  # the pushed script waited for a request the model could take
    assert [e["choices"][0]["delta"].get("content") for e in events(answered)[1:2]] == ["short enough"]
    assert fake.pending == 0


async def test_stream_pieces_can_be_whole_deltas_or_verbatim_events(
    fake: FakeRelayDance, http: httpx.AsyncClient
) -> None:
    verbatim = {
        "object": "error",
        "message": "boom",
        "type": "InternalServerError",
        "param": None,
        "code": 500,
    }
    fake.push(Script.stream(["text", {"reasoning_content": "why"}, Event(verbatim)], finish_reason=None))

    answer = events(await chat(http, fake, stream=True))

    assert [e["choices"][0]["delta"] for e in answer[1:3]] == [
        {"content": "text"},
        {"reasoning_content": "why"},
    ]
    assert answer[3:] == [verbatim, "[DONE]"]


async def test_usage_can_come_in_the_finish_chunk(fake: FakeRelayDance, http: httpx.AsyncClient) -> None:
    fake.push(Script.stream(["a"], usage=(3, 2, 5), usage_in_finish=True))

    answer = events(await chat(http, fake, stream=True, stream_options={"include_usage": True}))

    assert answer[-2]["choices"][0]["finish_reason"] == "stop"
    assert answer[-2]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert [e for e in answer[:-2] if "usage" in e] == []


async def test_a_whole_answer_can_be_given_as_its_message_or_its_body(
    fake: FakeRelayDance, http: httpx.AsyncClient
) -> None:
    message = {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}
    fake.push(
        Script.stream([], message=message), Script.stream([], json_body={"object": "error", "message": "x"})
    )

    first = (await chat(http, fake)).json()
    second = (await chat(http, fake)).json()

    assert first["choices"][0]["message"] == message
    assert second == {"object": "error", "message": "x"}


async def test_the_answer_s_max_tokens_counts_toward_the_window_as_openai_counts(
    http: httpx.AsyncClient,
) -> None:
    async with FakeRelayDance(context_limit_chars=100) as fake:
        fits = [{"role": "user", "content": "u" * 60}]
        alone = await chat(http, fake, stream=False, messages=fits)
        with_answer = await chat(http, fake, stream=False, messages=fits, max_tokens=11)
    assert alone.status_code == 200
    assert with_answer.status_code == 400  # 60 characters + 11 tokens of answer > 25 tokens


@pytest.mark.parametrize(
    ("wording", "expected"),
    [
        ("xai", "This model's maximum prompt length is 25 but the request contains 26 tokens."),
        ("llamacpp", "the request exceeds the available context size, try increasing it"),
    ],
)
async def test_other_providers_words_for_a_prompt_too_long(
    http: httpx.AsyncClient, wording: ContextWording, expected: str
) -> None:
    async with FakeRelayDance(context_limit_chars=100, context_wording=wording) as fake:
        refused = await chat(http, fake, stream=True, messages=[{"role": "user", "content": "u" * 101}])
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == expected
