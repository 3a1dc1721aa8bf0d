"""Streams as OpenAI-compatible providers send them, read by RelayDanceClient over loopback HTTP:
reasoning (and the timeouts it satisfies or runs out), content-part lists, refusals, vLLM's error
object, `n > 1` choices and usage. The chunk shapes are in provider_shapes.py."""

from __future__ import annotations

import time

import pytest

from bot.errors import UpstreamStreamError, UpstreamTimeout
from bot.llm.client import REFUSAL_PREFIX, ChatDelta, RelayDanceClient, Usage
from tests.bot.llm.helpers import MakeClient, collect, collect_until_error, text_of, warm_up
from tests.bot.llm.provider_shapes import (
    choice,
    deepseek_stream,
    mistral_text,
    mistral_thinking,
    openai_chunk,
    openrouter_reasoning,
    vllm_chunk,
    vllm_error,
)
from tests.fakes.relaydance import FakeRelayDance, Script


def reasoning_of(deltas: list[ChatDelta]) -> str:
    return "".join(delta.reasoning for delta in deltas)


# -- reasoning is read, apart from the answer -----------------------------------------------------


async def test_deepseek_reasoning_content_is_reasoning_and_the_usage_comes_with_the_finish(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    fake.push(
        Script.stream(
            deepseek_stream(["Okay, ", "2+2 is 4."], ["The answer ", "is 4."], (12, 30, 42)),
            finish_reason=None,
        )
    )
    deltas = await collect(client)
    assert text_of(deltas) == "The answer is 4."
    assert reasoning_of(deltas) == "Okay, 2+2 is 4."
    assert all(not (delta.text and delta.reasoning) for delta in deltas)
    last = deltas[-1]
    assert (last.finish_reason, last.usage) == ("stop", Usage(12, 30, 42))


async def test_openrouter_reasoning_is_read_once_though_reasoning_details_repeat_it(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    fake.push(Script.stream([openrouter_reasoning("Let me "), openrouter_reasoning("think."), "Done."]))
    deltas = await collect(client)
    assert reasoning_of(deltas) == "Let me think."
    assert text_of(deltas) == "Done."


async def test_vllm_reasoning_field(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.stream([vllm_chunk({"reasoning": "hmm"}), vllm_chunk({"content": "Hi"}, "stop")]))
    deltas = await collect(client)
    assert (reasoning_of(deltas), text_of(deltas)) == ("hmm", "Hi")


async def test_content_part_lists_give_text_and_thinking_parts_give_reasoning(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    fake.push(
        Script.stream(
            [
                mistral_thinking("First, "),
                mistral_thinking("recall the capital."),
                mistral_text("Paris"),
                {
                    "content": [
                        {"type": "output_text", "text": " is"},
                        {"type": "text", "text": " the capital."},
                    ]
                },
            ]
        )
    )
    deltas = await collect(client)
    assert text_of(deltas) == "Paris is the capital."
    assert reasoning_of(deltas) == "First, recall the capital."


async def test_a_whole_answer_with_content_parts_and_reasoning(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    message = {
        "role": "assistant",
        "content": [{"type": "text", "text": "Hello "}, {"type": "output_text", "text": "there"}],
        "reasoning_content": "Greet them.",
    }
    fake.push(Script.stream([], as_json=True, message=message))
    [delta] = await collect(client)
    assert (delta.text, delta.reasoning, delta.finish_reason) == ("Hello there", "Greet them.", "stop")


# -- reasoning is activity: the first-token timeout, the idle timeout and the thinking cap -----


async def test_reasoning_satisfies_the_first_token_timeout(
    fake: FakeRelayDance, make_client: MakeClient
) -> None:
    # Thinks for ~0.4 s, four times the first-token timeout, before any answer text.
    thoughts = [{"reasoning_content": f"step {i}. "} for i in range(8)]
    await warm_up(fake, make_client)
    fake.push(Script.stream([*thoughts, "Answer."], first_delay=0.02, pace=0.05))
    start = time.monotonic()
    deltas = await collect(make_client(first_token_timeout=0.1, idle_timeout=0.2))
    assert time.monotonic() - start > 0.3
    assert text_of(deltas) == "Answer."
    assert reasoning_of(deltas).startswith("step 0. ")


@pytest.mark.parametrize(
    "empty",
    [
        pytest.param({"reasoning_content": "", "content": None}, id="empty-reasoning"),
        pytest.param({"content": ""}, id="empty-content"),
        pytest.param({"content": []}, id="empty-parts"),
        pytest.param({"role": "assistant"}, id="role-only"),
    ],
)
async def test_empty_deltas_do_not_satisfy_the_first_token_timeout(
    fake: FakeRelayDance, make_client: MakeClient, empty: dict[str, object]
) -> None:
    fake.push(Script.stream([empty] * 20 + ["late"], pace=0.03, keepalive=0.01))
    start = time.monotonic()
    deltas, error = await collect_until_error(make_client(first_token_timeout=0.15, idle_timeout=1.0))
    assert time.monotonic() - start < 0.6
    assert isinstance(error, UpstreamTimeout) and error.phase == "first_token"
    assert text_of(deltas) == ""


async def test_after_reasoning_the_idle_timeout_applies(
    fake: FakeRelayDance, make_client: MakeClient
) -> None:
    fake.push(Script.stream([{"reasoning_content": "hm"}, "never"], pace=5))
    deltas, error = await collect_until_error(make_client(first_token_timeout=5, idle_timeout=0.1))
    assert isinstance(error, UpstreamTimeout) and (error.phase, error.seconds) == ("idle", 0.1)
    assert reasoning_of(deltas) == "hm"


async def test_reasoning_longer_than_the_thinking_cap_ends_with_a_thinking_timeout(
    fake: FakeRelayDance, make_client: MakeClient
) -> None:
    fake.push(Script.stream([{"reasoning_content": "more "}] * 100 + ["never"], pace=0.02))
    start = time.monotonic()
    deltas, error = await collect_until_error(make_client(idle_timeout=1.0, thinking_timeout=0.2))
    assert 0.2 <= time.monotonic() - start < 0.6
    assert isinstance(error, UpstreamTimeout) and (error.phase, error.seconds) == ("thinking", 0.2)
    assert "still thinking after 0.2 s without starting its answer" in error.user_message
    assert text_of(deltas) == "" and reasoning_of(deltas)
    await fake.requests[0].wait_disconnected()  # the upstream stops generating


async def test_the_thinking_cap_ends_once_the_answer_starts(
    fake: FakeRelayDance, make_client: MakeClient
) -> None:
    # Reasoning, then answer text and more reasoning for three times the cap: the answer is whole.
    pieces: list[str | dict[str, str]] = [{"reasoning": "plan"}]
    for i in range(12):
        pieces += [f"w{i} ", {"reasoning": "again"}]
    fake.push(Script.stream(pieces, pace=0.025))
    deltas = await collect(make_client(idle_timeout=1.0, thinking_timeout=0.2))
    assert text_of(deltas) == "".join(f"w{i} " for i in range(12))


# -- refusals, errors, choices, usage ---------------------------------------------------------


async def test_a_streamed_refusal_is_shown_as_the_answer_with_one_prefix(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    fake.push(
        Script.stream(
            [
                {"role": "assistant", "content": None, "refusal": ""},
                {"refusal": "I'm sorry, "},
                {"refusal": "I can't help with that."},
            ]
        )
    )
    deltas = await collect(client)
    assert text_of(deltas) == REFUSAL_PREFIX + "I'm sorry, I can't help with that."


async def test_a_refusal_in_a_whole_answer_is_shown(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(
        Script.stream([], as_json=True, message={"role": "assistant", "content": None, "refusal": "No."})
    )
    assert text_of(await collect(client)) == REFUSAL_PREFIX + "No."


async def test_a_vllm_error_object_mid_stream_is_an_error_not_the_end(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    # vLLM sends [DONE] after its error object, so without reading it the answer looked complete.
    fake.push(Script.stream([vllm_chunk({"content": "Half an "}), vllm_error("CUDA out of memory")]))
    deltas, error = await collect_until_error(client)
    assert text_of(deltas) == "Half an "
    assert isinstance(error, UpstreamStreamError)
    assert "CUDA out of memory (InternalServerError)" in error.detail


async def test_only_choice_zero_is_read_when_choices_interleave(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    fake.push(
        Script.stream(
            [
                openai_chunk([choice({"content": "B1 "}, index=1), choice({"content": "A1 "}, index=0)]),
                openai_chunk([choice({"content": "B2 "}, index=1)]),
                openai_chunk([choice({"reasoning_content": "b thinks"}, index=1)]),
                openai_chunk([choice({"content": "A2"}, index=0)]),
                openai_chunk(
                    [choice({}, index=1, finish_reason="length"), choice({}, index=0, finish_reason="stop")]
                ),
            ],
            finish_reason=None,
        )
    )
    deltas = await collect(client)
    assert text_of(deltas) == "A1 A2"
    assert reasoning_of(deltas) == ""
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]


async def test_a_choice_without_an_index_is_the_first(fake: FakeRelayDance, client: RelayDanceClient) -> None:
    fake.push(Script.stream([openai_chunk([choice({"content": "no index"}, index=None)])]))
    assert text_of(await collect(client)) == "no index"


@pytest.mark.parametrize("in_finish", [False, True], ids=["usage-only-last-chunk", "usage-with-finish"])
async def test_usage_is_read_in_either_place(
    fake: FakeRelayDance, client: RelayDanceClient, in_finish: bool
) -> None:
    fake.push(Script.stream(["a", "b"], usage=(7, 2, 9), usage_in_finish=in_finish))
    deltas = await collect(client)
    assert [d.usage for d in deltas if d.usage] == [Usage(7, 2, 9)]
    assert text_of(deltas) == "ab"
    assert fake.requests[0].json["stream_options"] == {"include_usage": True}


async def test_a_vllm_error_object_as_a_whole_answer_is_an_error(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    fake.push(Script.stream([], as_json=True, json_body=vllm_error("model is loading").payload))
    deltas, error = await collect_until_error(client)
    assert deltas == [] and isinstance(error, UpstreamStreamError)
    assert "model is loading (InternalServerError)" in error.detail
