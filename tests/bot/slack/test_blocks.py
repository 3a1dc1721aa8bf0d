from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack.blocks import (
    ACTION_FEEDBACK_DOWN,
    ACTION_FEEDBACK_UP,
    ACTION_REGENERATE,
    ACTION_STOP,
    MESSAGE_TEXT_LIMIT,
    SECTION_TEXT_LIMIT,
    SHORTCUT_SUMMARIZE,
    Block,
    final_controls,
    message_blocks,
    streaming_controls,
)
from bot.text.splitting import join_chunks
from tests.bot.slack.block_kit_checks import assert_slack_accepts, assert_within_limits

# -- Answer messages ----------------------------------------------------------------------------------


def test_short_text_is_one_expanded_section() -> None:
    assert message_blocks("Hello *there*", None) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Hello *there*"}, "expand": True}
    ]


def test_full_message_is_two_sections_cut_at_a_line() -> None:
    lines = [f"line {i:04d} " + "x" * 40 for i in range(80)]
    text = "\n".join(lines)[:MESSAGE_TEXT_LIMIT]
    result = message_blocks(text, None)
    sections = [block["text"]["text"] for block in result]
    assert len(sections) == 2
    assert all(len(section) <= SECTION_TEXT_LIMIT for section in sections)
    assert sections[0].endswith("\n") and sections[1].startswith("line ")
    assert "".join(sections) == text


def test_code_block_cut_between_sections_is_closed_and_reopened() -> None:
    text = "```\n" + "\n".join(f"print({i})" for i in range(350)) + "\n```"
    assert len(text) <= MESSAGE_TEXT_LIMIT
    first, second = (block["text"]["text"] for block in message_blocks(text, None))
    assert first.endswith("\n```") and second.startswith("```")
    assert join_chunks([first, second]) == text


_lines = st.lists(st.text(alphabet="ab *_`<>&\n", max_size=150), max_size=60).map("\n".join)


@settings(max_examples=150)
@given(text=st.one_of(_lines, st.text(max_size=200)).map(lambda t: t[:MESSAGE_TEXT_LIMIT]))
def test_sections_keep_every_visible_character(text: str) -> None:
    result = message_blocks(text, final_controls("a1"))
    sections = [block["text"]["text"] for block in result if block["type"] == "section"]
    assert len(sections) <= 2
    assert all(0 < len(section) <= SECTION_TEXT_LIMIT for section in sections)
    assert "".join(join_chunks(sections).split()) == "".join(text.split())
    assert result[len(sections) :] == final_controls("a1")


def test_text_longer_than_a_message_is_refused() -> None:
    with pytest.raises(ValueError, match="4000"):
        message_blocks("x" * (MESSAGE_TEXT_LIMIT + 1), None)


@pytest.mark.parametrize("text", ["", "  \n "])
def test_blank_text_gives_controls_only(text: str) -> None:
    assert message_blocks(text, streaming_controls("a1")) == streaming_controls("a1")
    assert message_blocks(text, None) == []


def test_streaming_controls_is_a_stop_button() -> None:
    [actions] = streaming_controls("answer-1")
    [stop] = actions["elements"]
    assert actions["type"] == "actions"
    assert stop["action_id"] == ACTION_STOP
    assert stop["value"] == "answer-1"
    assert stop["style"] == "danger"
    assert stop["text"]["text"] == "Stop"


def test_final_controls_regenerate_and_thumbs() -> None:
    [actions] = final_controls("answer-1")
    assert [e["action_id"] for e in actions["elements"]] == [
        ACTION_REGENERATE,
        ACTION_FEEDBACK_UP,
        ACTION_FEEDBACK_DOWN,
    ]
    assert {e["value"] for e in actions["elements"]} == {"answer-1"}


@pytest.mark.parametrize("feedback", ["up", "down"])
def test_after_feedback_thumbs_give_way_to_thanks(feedback: str) -> None:
    actions, context = final_controls("answer-1", feedback=feedback)
    assert [e["action_id"] for e in actions["elements"]] == [ACTION_REGENERATE]
    assert actions["elements"][0]["value"] == "answer-1"
    assert context["type"] == "context"
    assert "Thanks for the feedback" in context["elements"][0]["text"]


def test_unknown_feedback_is_refused() -> None:
    with pytest.raises(ValueError, match="feedback"):
        final_controls("a1", feedback="sideways")


@pytest.mark.parametrize(
    "surface",
    [
        message_blocks("a\n" * (MESSAGE_TEXT_LIMIT // 2), streaming_controls("a" * 2000)),
        message_blocks("*done*", final_controls("a1")),
        message_blocks("*done*", final_controls("a1", feedback="down")),
    ],
)
def test_messages_are_valid_block_kit(surface: list[Block]) -> None:
    assert_within_limits(surface)
    assert_slack_accepts(surface)


def test_ids_are_the_agreed_strings() -> None:
    assert (ACTION_STOP, ACTION_REGENERATE, ACTION_FEEDBACK_UP, ACTION_FEEDBACK_DOWN) == (
        "answer_stop",
        "answer_regenerate",
        "answer_feedback_up",
        "answer_feedback_down",
    )
    assert SHORTCUT_SUMMARIZE == "summarize_thread"
