"""Stream chunks and whole answers in the shapes OpenAI-compatible providers document, written
from their public API references (not copied from any recording):

- DeepSeek (`deepseek-reasoner`) and xAI: `delta.reasoning_content` before `delta.content`, both
  keys present with the other `null`; usage in the same chunk as `finish_reason`.
- OpenRouter: `delta.reasoning` plus the same text again in `delta.reasoning_details`.
- vLLM: `delta.reasoning`; a failure mid-stream is `{"object": "error", …}` followed by `[DONE]`.
- Mistral (Magistral): `delta.content` as a list of typed parts, thinking in `thinking` parts.
- OpenAI: `delta.refusal` pieces; `n > 1` answers interleave choices by `index`.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.relaydance import Event

CREATED = 1_767_225_600


def openai_chunk(
    choices: list[dict[str, Any]], *, model: str = "grok-4.3", usage: dict[str, Any] | None = None
) -> Event:
    payload: dict[str, Any] = {
        "id": "chatcmpl-4f1c",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_3a5770e1b4",
        "choices": choices,
    }
    if usage is not None:
        payload["usage"] = usage
    return Event(payload)


def choice(
    delta: dict[str, Any], *, index: int | None = 0, finish_reason: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"delta": delta, "logprobs": None, "finish_reason": finish_reason}
    if index is not None:
        out["index"] = index
    return out


def deepseek_stream(thoughts: list[str], answer: list[str], usage: tuple[int, int, int]) -> list[Event]:
    """deepseek-reasoner: an opening role chunk, reasoning pieces, answer pieces, then a last chunk
    with an empty delta, `finish_reason` and `usage` together (reasoning tokens in the details)."""
    prompt, completion, total = usage
    events = [openai_chunk([choice({"role": "assistant", "content": None, "reasoning_content": ""})])]
    events += [openai_chunk([choice({"content": None, "reasoning_content": t})]) for t in thoughts]
    events += [openai_chunk([choice({"content": a, "reasoning_content": None})]) for a in answer]
    events.append(
        openai_chunk(
            [choice({"content": "", "reasoning_content": None}, finish_reason="stop")],
            usage={
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": total,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": completion // 2},
                "prompt_cache_hit_tokens": 0,
                "prompt_cache_miss_tokens": prompt,
            },
        )
    )
    return events


def openrouter_reasoning(text: str) -> Event:
    """OpenRouter: `reasoning` and `reasoning_details` carry the same text."""
    delta = {
        "role": "assistant",
        "content": "",
        "reasoning": text,
        "reasoning_details": [{"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}],
    }
    return Event(
        {
            "id": "gen-1767225600-abc",
            "provider": "DeepInfra",
            "model": "qwen/qwen3-235b-a22b-thinking",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None, "native_finish_reason": None}],
        }
    )


def vllm_chunk(delta: dict[str, Any], finish_reason: str | None = None) -> Event:
    return Event(
        {
            "id": "chatcmpl-9b2e",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": "Qwen/Qwen3-8B",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
    )


def vllm_error(message: str = "The engine died unexpectedly.") -> Event:
    """vLLM's ErrorResponse: the error's fields at the top, no "error" key, `code` a number."""
    return Event(
        {"object": "error", "message": message, "type": "InternalServerError", "param": None, "code": 500}
    )


def mistral_thinking(text: str) -> dict[str, Any]:
    """A Magistral delta whose `content` is a thinking part holding text parts."""
    return {
        "role": "assistant",
        "content": [{"type": "thinking", "thinking": [{"type": "text", "text": text}]}],
    }


def mistral_text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}]}
