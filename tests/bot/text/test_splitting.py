from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.mrkdwn import markdown_to_mrkdwn
from bot.text.splitting import CLOSE_FENCE, MIN_LIMIT, OPEN_FENCE, join_chunks, split_mrkdwn

# Text built from the characters the splitter cares about, so edge cases come up often.
_pieces = st.sampled_from(
    ["\n", "\n\n", " ", "```", "```\n", "\n```\n", "`", "&amp;", "&lt;", "<https://x.io|a link>", "<@U1>"]
)
_words = st.text(alphabet="ab &<>|`\n\u0301\u200d", min_size=1, max_size=12)
mrkdwn_like = st.lists(st.one_of(_pieces, _words), max_size=80).map("".join)
limits = st.integers(min_value=MIN_LIMIT, max_value=120)


@pytest.mark.parametrize("text", ["", "short", "x" * 100])
def test_text_that_fits_is_one_chunk_or_none(text: str) -> None:
    assert split_mrkdwn(text, 100) == ([text] if text else [])


@pytest.mark.parametrize("limit", [-1, 0, MIN_LIMIT - 1])
def test_limit_below_minimum_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        split_mrkdwn("text", limit)


def test_prefers_a_paragraph_break() -> None:
    text = "first paragraph here.\nsecond line\n\nthird paragraph that is long"
    assert split_mrkdwn(text, 50) == [
        "first paragraph here.\nsecond line\n\n",
        "third paragraph that is long",
    ]


def test_falls_back_to_a_line_break() -> None:
    text = "line one is here\nline two is here\nline three is here"
    assert split_mrkdwn(text, 40) == ["line one is here\nline two is here\n", "line three is here"]


def test_falls_back_to_a_space() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    chunks = split_mrkdwn(text, 24)
    assert chunks[0] == "alpha beta gamma "
    assert join_chunks(chunks) == text


def test_hard_cut_when_there_is_no_break() -> None:
    text = "x" * 50
    # Room for a closing fence is kept in every chunk but the last.
    assert split_mrkdwn(text, 20) == ["x" * 16, "x" * 16, "x" * 18]


def test_a_short_first_paragraph_is_not_a_message_of_its_own() -> None:
    text = "Hi!\n\n" + "word " * 20
    assert not split_mrkdwn(text, 60)[0].startswith("Hi!\n\n" + "\n")
    assert len(split_mrkdwn(text, 60)[0]) > 20


@pytest.mark.parametrize("entity", ["&amp;", "&lt;", "&gt;", "&#128512;"])
def test_never_cuts_inside_an_entity(entity: str) -> None:
    for offset in range(12):
        text = "y" * offset + entity * 10
        for chunk in split_mrkdwn(text, MIN_LIMIT)[:-1]:
            assert chunk.endswith((";", "y")), chunk


def test_never_cuts_inside_a_link_when_it_fits() -> None:
    link = "<https://example.com/a|read this>"
    text = "see " * 5 + link + " and more words after it"
    for chunk in split_mrkdwn(text, 48):
        assert chunk.count("<") == chunk.count(">")


def test_a_link_longer_than_a_chunk_is_cut_anyway() -> None:
    text = "<https://example.com/" + "a" * 100 + ">"
    chunks = split_mrkdwn(text, 40)
    assert len(chunks) > 1
    assert join_chunks(chunks) == text


def test_does_not_separate_a_combining_mark() -> None:
    text = "e\u0301" * 30
    for chunk in split_mrkdwn(text, MIN_LIMIT):
        assert not chunk.startswith("\u0301")


def test_code_block_is_closed_and_reopened() -> None:
    code = "\n".join(f"line {i}" for i in range(12))
    text = f"Intro\n```\n{code}\n```\nOutro"
    chunks = split_mrkdwn(text, 48)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.count("```") % 2 == 0, chunk
    inner = [c for c in chunks if c.startswith(OPEN_FENCE) and c.endswith(CLOSE_FENCE)]
    assert inner
    for chunk in inner:
        body = chunk[len(OPEN_FENCE) : -len(CLOSE_FENCE)]
        assert body.startswith("\nline")  # the newline follows the reopened fence
    assert join_chunks(chunks) == text


def test_no_empty_code_block_before_a_closing_fence() -> None:
    code = "\n".join(f"code line {i} &amp; <x>" for i in range(20))
    text = f"```\n{code}\n```\nend"
    for limit in range(MIN_LIMIT, 120):
        chunks = split_mrkdwn(text, limit)
        assert all("```\n```" not in chunk for chunk in chunks), limit


def test_converted_answer_splits_into_renderable_messages() -> None:
    md = "# Title\n\n" + "Some **bold** text. " * 40 + "\n\n```python\n" + "x = 1\n" * 200 + "```\n"
    mrkdwn = markdown_to_mrkdwn(md)
    chunks = split_mrkdwn(mrkdwn, 400)
    assert all(len(chunk) <= 400 for chunk in chunks)
    assert all(chunk.count("```") % 2 == 0 for chunk in chunks)
    assert join_chunks(chunks) == mrkdwn


def test_join_of_nothing_is_empty() -> None:
    assert join_chunks([]) == ""
    assert join_chunks(split_mrkdwn("", 100)) == ""


@settings(max_examples=300)
@given(mrkdwn_like, limits)
def test_split_loses_and_repeats_nothing(text: str, limit: int) -> None:
    chunks = split_mrkdwn(text, limit)
    assert join_chunks(chunks) == text
    assert all(0 < len(chunk) <= limit for chunk in chunks)


@settings(max_examples=200)
@given(st.text(max_size=400), limits)
def test_split_of_any_text_joins_back(text: str, limit: int) -> None:
    chunks = split_mrkdwn(text, limit)
    assert join_chunks(chunks) == text
    assert all(len(chunk) <= limit for chunk in chunks)


@settings(max_examples=200)
@given(mrkdwn_like, mrkdwn_like, limits)
def test_chunks_before_the_last_are_stable_as_text_grows(text: str, more: str, limit: int) -> None:
    before = split_mrkdwn(text, limit)
    after = split_mrkdwn(text + more, limit)
    settled = max(len(before) - 1, 0)
    assert after[:settled] == before[:settled]


@settings(max_examples=100)
@given(st.text(alphabet="ab *_`#-\n>[]()|~", max_size=300), st.integers(min_value=64, max_value=200))
def test_converted_markdown_round_trips(md: str, limit: int) -> None:
    mrkdwn = markdown_to_mrkdwn(md)
    assert join_chunks(split_mrkdwn(mrkdwn, limit)) == mrkdwn
