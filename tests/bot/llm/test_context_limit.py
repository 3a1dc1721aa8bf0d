"""Providers' "prompt too long" refusals, in the wordings their APIs and users' reports show."""

from __future__ import annotations

import json

import pytest

from bot.llm.context_limit import ContextLimit, context_limit


def openai_body(message: str, code: str | None = None, type: str = "invalid_request_error") -> bytes:
    error = {"message": message, "type": type, "param": "messages", "code": code}
    return json.dumps({"error": error}).encode()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (  # OpenAI's chat completions
            openai_body(
                "This model's maximum context length is 8192 tokens. However, your messages resulted "
                "in 9000 tokens. Please reduce the length of the messages.",
                "context_length_exceeded",
            ),
            ContextLimit(8192, 9000),
        ),
        (  # OpenAI's older wording, completion included in the request
            openai_body(
                "This model's maximum context length is 4097 tokens, however you requested 4569 "
                "tokens (3545 in your prompt; 1024 for the completion). Please reduce your prompt; "
                "or completion length."
            ),
            ContextLimit(4097, 3545),
        ),
        (  # xAI (Grok)
            openai_body(
                "This model's maximum prompt length is 131072 but the request contains 136973 tokens."
            ),
            ContextLimit(131072, 136973),
        ),
        (  # vLLM / DeepSeek
            openai_body(
                "This model's maximum context length is 65536 tokens. However, you requested 70000 "
                "tokens (69000 in the messages, 1000 in the completion). Please reduce the length of "
                "the messages or completion.",
                type="BadRequestError",
            ),
            ContextLimit(65536, 69000),
        ),
        (openai_body("prompt is too long: 202609 tokens > 200000 maximum"), ContextLimit(200000, 202609)),
        (
            openai_body(
                "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 "
                "maximum context length"
            ),
            ContextLimit(32768, 40000),
        ),
        (
            openai_body(
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
            ),
            ContextLimit(1048576, 1200000),
        ),
        (  # llama.cpp's server: a code and no numbers in the message
            json.dumps(
                {
                    "error": {
                        "code": 400,
                        "message": "the request exceeds the available context size, try increasing it",
                        "type": "exceed_context_size_error",
                    }
                }
            ).encode(),
            ContextLimit(None, None),
        ),
        (openai_body("Too long.", "context_length_exceeded"), ContextLimit(None, None)),
        (b"Error: too many tokens in the prompt", ContextLimit(None, None)),  # a relay's plain text
        ('{"error": "maximum context length is 1,000,000 tokens"}', ContextLimit(1_000_000, None)),
    ],
)
def test_a_context_length_refusal_and_its_numbers(body: bytes | str, expected: ContextLimit) -> None:
    assert context_limit(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        openai_body("Invalid value for 'temperature': must be at most 2.", "invalid_value"),
        openai_body(  # Groq: a rate limit on tokens per minute, not the context window
            "Request too large for model `llama-3.3-70b-versatile` on tokens per minute (TPM): "
            "Limit 6000, Requested 14810, please reduce your message size and try again.",
            "rate_limit_exceeded",
            type="tokens",
        ),
        b"<html>teapot</html>",
        b"",
        b"[1, 2]",
    ],
)
def test_other_errors_are_not_mistaken_for_it(body: bytes) -> None:
    assert context_limit(body) is None
