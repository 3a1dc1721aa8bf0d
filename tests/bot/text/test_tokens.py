"""The token estimate against real tokenizers' counts of real-looking text, script by script.

The references (token_samples/references.json) were counted by OpenAI's o200k_base (GPT-4o and
later), cl100k_base and Grok-1's tokenizer (see bench/tokens.py, which recounts them). The
estimate is tuned to o200k_base; Grok-1's older SentencePiece vocabulary spends two to four
times as many tokens on Korean, Thai and Arabic, which a context-length refusal then catches.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text.prompt import (
    MESSAGE_OVERHEAD_TOKENS,
    MIN_QUESTION_CHARS,
    Turn,
    build_messages,
    estimate_tokens,
    trim_to_tokens,
)
from bot.text.tokens import text_tokens

SAMPLES = Path(__file__).parent / "token_samples"
REFERENCES: dict[str, dict[str, int]] = json.loads((SAMPLES / "references.json").read_text("utf-8"))[
    "samples"
]


def sample(name: str) -> str:
    return (SAMPLES / name).read_text("utf-8")


def test_every_sample_has_a_reference() -> None:
    files = {p.name for p in SAMPLES.iterdir() if p.name != "references.json"}
    assert files == set(REFERENCES)
    assert len(files) >= 15
    for name in files:
        assert REFERENCES[name]["chars"] == len(sample(name)), f"{name} changed: recount (bench/tokens.py)"


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_within_a_quarter_of_o200k_and_never_far_under(name: str) -> None:
    reference = REFERENCES[name]["o200k_base"]
    estimate = text_tokens(sample(name))
    assert 0.9 * reference <= estimate <= 1.25 * reference, (name, estimate, reference)


def test_much_closer_than_four_characters_a_token_where_that_was_wrong() -> None:
    """The old estimate (characters / 4) was under by two thirds for CJK and by a third for data."""
    for name in ("japanese.txt", "chinese.txt", "korean.txt", "numbers.csv", "ids_and_blobs.txt"):
        reference = REFERENCES[name]["o200k_base"]
        old_error = abs(len(sample(name)) / 4 - reference)
        assert abs(text_tokens(sample(name)) - reference) < old_error / 3, name


@pytest.mark.parametrize(
    ("text", "o200k"),
    [
        # OpenAI's cookbook "How to count tokens with tiktoken": [83, 1609, 5963, 374, 2294, 0]
        # in cl100k_base; o200k_base also splits it in 6.
        ("tiktoken is great!", 6),
        ("antidisestablishmentarianism", 6),
        ("2 + 2 = 4", 7),
        ("お誕生日おめでとう", 8),
        ("hello world", 2),
        ("@here the build is red again", 7),
        ("…—“”€°", 6),
    ],
)
def test_short_texts_are_within_two_tokens(text: str, o200k: int) -> None:
    assert abs(text_tokens(text) - o200k) <= 2


@pytest.mark.parametrize(
    ("text", "least", "most"),
    [
        ("👍", 2, 3),
        ("👨‍👩‍👧‍👦", 7, 12),  # four people joined by three ZWJs
        ("नमस्ते दुनिया", 4, 8),  # Devanagari: about 0.4 a character
        ("Γειά σου κόσμε", 4, 8),
        ("x" * 700, 100, 100),  # seven letters a token in a long run
        ("1234567890" * 3, 10, 10),  # digits in threes
        ("    return x\n" * 10, 30, 40),  # an indented line: break, word, word
    ],
)
def test_each_kind_of_character_has_its_cost(text: str, least: int, most: int) -> None:
    assert least <= text_tokens(text) <= most


def test_an_empty_text_costs_nothing_and_any_other_at_least_one() -> None:
    assert text_tokens("") == 0
    assert text_tokens(" ") == 1
    assert estimate_tokens("") == MESSAGE_OVERHEAD_TOKENS


@given(st.text(), st.sampled_from(["\n", "\n\n", "\r\n"]), st.text())
def test_joining_at_a_line_break_costs_at_most_the_pieces(head: str, separator: str, tail: str) -> None:
    # What lets the summary planner measure a part block by block.
    assert text_tokens(head + separator + tail) <= text_tokens(head) + text_tokens(separator + tail)


@given(st.text(min_size=1))
def test_any_text_gets_a_positive_estimate_no_larger_than_a_few_per_character(text: str) -> None:
    assert 1 <= text_tokens(text) <= 3 * len(text) + 1


# -- cutting to a token budget ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["japanese.txt", "python_code.txt", "emoji.txt", "ids_and_blobs.txt"])
def test_trim_to_tokens_fits_and_keeps_both_ends(name: str) -> None:
    text = sample(name) * 3
    trimmed = trim_to_tokens(text, 100)
    assert text_tokens(trimmed) <= 100
    assert text_tokens(trimmed) >= 70  # sized from the text's own density, not four characters a token
    assert trimmed[:10] == text[:10] and trimmed[-10:] == text[-10:]
    assert "characters left out" in trimmed


def test_trim_to_tokens_leaves_a_fitting_text_alone_and_keeps_its_minimum() -> None:
    assert trim_to_tokens("short", 10) == "short"
    assert len(trim_to_tokens("x " * 1000, 1, min_chars=200)) == 200


def test_a_cjk_conversation_is_fitted_by_its_real_cost() -> None:
    """Japanese at four characters a token would have sent about three times the budget."""
    japanese = sample("japanese.txt")
    turns = [Turn(role="user", text=japanese, author="Aiko") for _ in range(10)]
    messages = build_messages("Be brief.", turns, budget_tokens=1000)
    kept = messages[1:]
    assert 2 <= len(kept) <= 3
    # Counted by o200k_base, the request still fits the window it was built for.
    real = sum(REFERENCES["japanese.txt"]["o200k_base"] + MESSAGE_OVERHEAD_TOKENS + 3 for _ in kept)
    assert real <= 1000


def test_a_long_cjk_question_is_cut_to_fit_but_keeps_its_minimum() -> None:
    question = Turn(role="user", text=sample("chinese.txt") * 20, author="Li")
    messages = build_messages("Be brief.", [question], budget_tokens=300)
    content = messages[-1]["content"]
    assert sum(estimate_tokens(m["content"]) for m in messages) <= 300
    assert len(content) >= MIN_QUESTION_CHARS
