from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.prompt import estimate_tokens
from bot.text.summary_prompts import (
    RECAP_INSTRUCTIONS,
    SUMMARY_INSTRUCTIONS,
    TITLE_MAX_CHARS,
    Kind,
    SourceMessage,
    format_source,
    instructions,
    left_out_line,
    map_messages,
    plan_parts,
    plan_reduce,
    reduce_messages,
    single_pass_messages,
)

KINDS: tuple[Kind, ...] = ("thread", "channel")


def message(n: int, text: str = "hello", author: str = "Alice") -> SourceMessage:
    ts = f"{1_700_000_000 + n}.{n:06d}"
    return SourceMessage(
        ts=ts,
        author=author,
        text=text,
        permalink=f"https://acme.slack.com/archives/C1/p{ts.replace('.', '')}",
    )


def tokens(request: list[dict[str, str]]) -> int:
    return sum(estimate_tokens(m["content"]) for m in request)


# -- prompts ---------------------------------------------------------------------------------------


def test_format_source_is_numbered_blocks_with_permalinks() -> None:
    messages = [message(1, "Ship it?"), message(2, "  Yes, Friday.\nAfter the freeze. ", author="Bob")]
    assert format_source(messages) == (
        f"[1] Alice ({messages[0].permalink}): Ship it?\n\n"
        f"[2] Bob ({messages[1].permalink}): Yes, Friday.\nAfter the freeze."
    )
    assert format_source([]) == ""


_texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)


@settings(max_examples=200)
@given(st.lists(_texts, max_size=20))
def test_format_source_carries_every_permalink_in_order(texts: list[str]) -> None:
    messages = [message(n, text) for n, text in enumerate(texts)]
    source = format_source(messages)
    positions = [source.find(f"({m.permalink}): ") for m in messages]
    assert all(p >= 0 for p in positions)
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("kind", "sections"),
    [
        ("thread", ["**Gist**", "**Decisions**", "**Open questions**", "**Action items**"]),
        ("channel", ["**Topics**", "**Decisions**", "**Open questions**"]),
    ],
)
def test_instructions_ask_for_the_fixed_shape_with_sources(kind: Kind, sections: list[str]) -> None:
    text = instructions(kind)
    assert text == (SUMMARY_INSTRUCTIONS if kind == "thread" else RECAP_INSTRUCTIONS)
    assert [text.index(s) for s in sections] == sorted(text.index(s) for s in sections)
    assert "[source](permalink)" in text
    assert '"None"' in text
    final = reduce_messages(["notes"], kind=kind, title="t")[0]["content"]
    assert all(s in final for s in sections)


@pytest.mark.parametrize("kind", KINDS)
def test_single_pass_messages(kind: Kind) -> None:
    messages = [message(1), message(2)]
    system, user = single_pass_messages(messages, kind=kind, title="#eng, last 24 hours")
    assert system == {"role": "system", "content": instructions(kind)}
    assert user["role"] == "user"
    assert user["content"].startswith("Title: #eng, last 24 hours\n\n")
    assert user["content"].endswith(format_source(messages))


@pytest.mark.parametrize("kind", KINDS)
def test_map_messages_says_which_part_and_asks_for_notes(kind: Kind) -> None:
    part = [message(1), message(2)]
    system, user = map_messages(part, index=2, total=3, kind=kind)
    assert "part 2 of 3" in system["content"]
    assert "notes, not prose" in system["content"]
    assert "Keep every such permalink" in system["content"]
    assert user == {"role": "user", "content": f"Part 2 of 3. Messages:\n\n{format_source(part)}"}


@pytest.mark.parametrize(("index", "total"), [(0, 3), (4, 3), (1, 0)])
def test_map_messages_refuses_a_part_that_does_not_exist(index: int, total: int) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        map_messages([message(1)], index=index, total=total, kind="thread")


@pytest.mark.parametrize("kind", KINDS)
def test_reduce_messages(kind: Kind) -> None:
    system, user = reduce_messages(["- Topic: a", "- Decision: b "], kind=kind, title="Thread by Alice")
    assert "**Decisions**" in system["content"]
    assert user["content"] == (
        "Title: Thread by Alice\n\nNotes, oldest first:\n\n[Notes 1]\n- Topic: a\n\n[Notes 2]\n- Decision: b"
    )
    system, _ = reduce_messages(["a", "b"], kind=kind, title="t", final=False)
    assert "**Decisions**" not in system["content"]
    assert "notes, not prose" in system["content"]


def test_long_titles_are_cut() -> None:
    _, user = single_pass_messages([], kind="thread", title="word " * 100)
    title = user["content"].partition("\n")[0].removeprefix("Title: ")
    assert len(title) == TITLE_MAX_CHARS
    assert title.endswith("…")


# -- plan_parts ------------------------------------------------------------------------------------


def test_everything_that_fits_is_one_part() -> None:
    messages = [message(n) for n in range(5)]
    assert plan_parts(messages, budget_tokens=6000) == [messages]


def test_no_messages_no_parts() -> None:
    assert plan_parts([], budget_tokens=6000) == []


def test_parts_are_filled_in_order() -> None:
    messages = [message(n, "word " * 600) for n in range(10)]  # about 600 tokens each
    parts = plan_parts(messages, budget_tokens=2000)  # room for two such messages a part
    assert parts == [messages[0:2], messages[2:4], messages[4:6], messages[6:8], messages[8:10]]


def test_a_huge_message_is_cut_in_its_own_part() -> None:
    huge = message(2, "START " + "x" * 100_000 + " END")
    messages = [message(1), huge, message(3)]
    parts = plan_parts(messages, budget_tokens=2000)
    assert parts[0] == [messages[0]]
    assert parts[2] == [messages[2]]
    [cut] = parts[1]
    assert (cut.ts, cut.author, cut.permalink) == (huge.ts, huge.author, huge.permalink)
    assert cut.text.startswith("START ")
    assert cut.text.endswith(" END")
    assert "characters left out" in cut.text
    assert tokens(map_messages(parts[1], index=2, total=3, kind="thread")) <= 2000


def test_a_huge_author_is_cut_too() -> None:
    huge = message(1, "x" * 10_000, author="A" * 10_000)
    [[cut]] = plan_parts([huge], budget_tokens=1000)
    assert cut.permalink == huge.permalink
    assert tokens(map_messages([cut], index=1, total=1, kind="channel")) <= 1000


@pytest.mark.parametrize("budget", [-1, 0, 100, 500])
def test_a_budget_without_room_for_messages_is_refused(budget: int) -> None:
    with pytest.raises(ValueError, match="too small"):
        plan_parts([message(1)], budget_tokens=budget)
    with pytest.raises(ValueError, match="too small"):
        plan_reduce(["notes"], budget_tokens=budget)


_message_texts = st.one_of(
    st.text(max_size=50), st.integers(min_value=0, max_value=12_000).map(lambda n: "y" * n)
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_message_texts, st.text(min_size=1, max_size=30)), max_size=40),
    st.integers(min_value=700, max_value=4000),
)
def test_every_message_is_in_exactly_one_part_in_order(items: list[tuple[str, str]], budget: int) -> None:
    messages = [message(n, text, author) for n, (text, author) in enumerate(items)]
    parts = plan_parts(messages, budget_tokens=budget)
    flat = [m for part in parts for m in part]
    assert [(m.ts, m.permalink) for m in flat] == [(m.ts, m.permalink) for m in messages]
    assert all(parts)
    originals = {m.ts: m for m in messages}
    for part in parts:
        for kind in KINDS:
            assert tokens(map_messages(part, index=len(parts), total=len(parts), kind=kind)) <= budget
        for got in part:
            original = originals[got.ts]
            if got != original:  # only a message alone in its part is ever cut, and only shorter
                assert len(part) == 1
                assert len(got.text) < len(original.text) or len(got.author) < len(original.author)
    if len(parts) == 1:
        for kind in KINDS:
            assert tokens(single_pass_messages(parts[0], kind=kind, title="t" * 500)) <= budget


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=50), max_size=30))
def test_messages_are_kept_as_they_are_when_they_fit(texts: list[str]) -> None:
    messages = [message(n, text) for n, text in enumerate(texts)]
    assert [m for part in plan_parts(messages, budget_tokens=1000) for m in part] == messages


# -- plan_reduce -----------------------------------------------------------------------------------


def test_partials_that_fit_are_one_group() -> None:
    assert plan_reduce(["a", "b", "c"], budget_tokens=6000) == [["a", "b", "c"]]
    assert plan_reduce([], budget_tokens=6000) == []


def test_a_lone_huge_partial_is_cut_to_fit() -> None:
    [[cut]] = plan_reduce(["START " + "z" * 100_000 + " END"], budget_tokens=2000)
    assert cut.startswith("START ") and cut.endswith(" END")
    assert tokens(reduce_messages([cut], kind="thread", title="t" * 500)) <= 2000


def test_huge_partials_are_cut_so_that_two_fit_a_group() -> None:
    partials = ["z" * 100_000] * 5
    groups = plan_reduce(partials, budget_tokens=2000)
    assert [len(g) for g in groups] == [2, 2, 1]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.text(max_size=40), st.integers(0, 20_000).map(lambda n: "n" * n)), max_size=30),
    st.integers(min_value=800, max_value=4000),
)
def test_every_partial_is_in_exactly_one_group_and_rounds_end(partials: list[str], budget: int) -> None:
    groups = plan_reduce(partials, budget_tokens=budget)
    flat = [p for group in groups for p in group]
    assert len(flat) == len(partials)
    for got, original in zip(flat, partials, strict=True):
        assert got == original or (len(got) < len(original) and got.startswith(original[:1]))
    assert all(groups)
    assert all(len(group) >= 2 for group in groups[:-1])  # so each round at least halves the count
    for group in groups:
        for kind in KINDS:
            for final in (True, False):
                request = reduce_messages(group, kind=kind, title="t" * 500, final=final)
                assert tokens(request) <= budget


def test_source_messages_are_values() -> None:
    a = message(1)
    assert dataclasses.replace(a) == a
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("kind", KINDS)
def test_messages_left_out_are_announced_in_the_final_request_and_still_fit(kind: Kind) -> None:
    assert left_out_line(kind, 0) == ""
    section = "Gist" if kind == "thread" else "Topics"
    assert left_out_line(kind, 1).startswith("Note: the oldest message of the ")
    texts = [f"Point {n}: " + "words " * 30 for n in range(400)]
    budget = 2000
    parts = plan_parts([message(n, text) for n, text in enumerate(texts)], budget_tokens=budget)
    single = single_pass_messages(parts[-1], kind=kind, title="t" * 500, left_out=987_654)
    assert (
        f"the oldest 987654 messages of the {'thread' if kind == 'thread' else 'period'}"
        in single[1]["content"]
    )
    assert f"say so in the {section}" in single[1]["content"]
    assert tokens(single) <= budget
    notes = ["- Topic: x " * 40] * 2
    final = reduce_messages(notes, kind=kind, title="t", left_out=12)
    assert "the oldest 12 messages" in final[1]["content"]
    assert (
        "were left out"
        not in reduce_messages(notes, kind=kind, title="t", final=False, left_out=12)[1]["content"]
    )
