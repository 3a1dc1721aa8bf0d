from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block as SdkBlock
from slack_sdk.models.views import View as SdkView

from bot.slack import blocks
from bot.slack.blocks import (
    ACTION_FEEDBACK_DOWN,
    ACTION_FEEDBACK_UP,
    ACTION_REGENERATE,
    ACTION_STOP,
    MESSAGE_TEXT_LIMIT,
    SECTION_TEXT_LIMIT,
    Block,
    final_controls,
    message_blocks,
    streaming_controls,
)
from bot.slack.views import (
    ACTION_OPEN_SETTINGS,
    BLOCK_FOLLOWUPS,
    BLOCK_MODEL,
    BLOCK_SYSTEM_PROMPT,
    BLOCK_TEMPERATURE,
    HOME_CHANNELS_SHOWN,
    MODEL_DEFAULT,
    SETTINGS_MODAL,
    SYSTEM_PROMPT_LIMIT,
    home_view,
    parse_settings_submission,
    settings_modal,
)
from bot.stores.channel_settings import ChannelConfig
from bot.text.splitting import join_chunks

DEFAULTS: Mapping[str, object] = {
    "system_prompt": "You are a helpful assistant in a Slack workspace.",
    "model": "grok-4.3",
    "temperature": None,
    "followups": True,
}
MODELS = ["grok-4.3", "grok-4.3-mini", "grok-code"]


# -- Slack's limits, checked independently of the builders ------------------------------------------


def _walk(node: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def assert_within_limits(surface: list[Block] | Block) -> None:
    """The Block Kit limits the bot can run into, from Slack's reference."""
    if isinstance(surface, list):
        assert len(surface) <= 50, "a message holds at most 50 blocks"
        block_list = surface
    else:
        block_list = surface["blocks"]
        assert len(block_list) <= 100, "a view holds at most 100 blocks"
        if surface["type"] == "modal":
            for key in ("title", "submit", "close"):
                if key in surface:
                    assert 1 <= len(surface[key]["text"]) <= 24, key
            assert len(surface.get("private_metadata", "")) <= 3000
            assert len(surface.get("callback_id", "")) <= 255
    for block in block_list:
        if block["type"] == "section" and "text" in block:
            assert 1 <= len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
        assert len(block.get("block_id", "")) <= 255
    for node in _walk(block_list):
        kind = node.get("type")
        if "action_id" in node:
            assert len(node["action_id"]) <= 255
        if kind == "button":
            assert 1 <= len(node["text"]["text"]) <= 75
            assert len(node.get("value", "")) <= 2000
            assert len(node.get("accessibility_label", "")) <= 75
        if kind == "static_select":
            assert 1 <= len(node["options"]) <= 100
        if kind == "radio_buttons":
            assert 1 <= len(node["options"]) <= 10
        if kind in ("static_select", "radio_buttons"):
            for option in node["options"]:
                assert 1 <= len(option["text"]["text"]) <= 75
                assert 1 <= len(option["value"]) <= 150
            if "initial_option" in node:
                assert node["initial_option"] in node["options"], "initial_option must be one of the options"
        if kind == "plain_text_input":
            assert 1 <= node.get("max_length", 3000) <= 3000
            assert len(node.get("initial_value", "")) <= node.get("max_length", 3000)
        if "placeholder" in node:
            assert len(node["placeholder"]["text"]) <= 150


def assert_slack_accepts(surface: list[Block] | Block) -> None:
    """slack-sdk's models know every field and validate many limits; a round trip that changes
    nothing means no unknown field and no broken limit."""
    if isinstance(surface, list):
        assert [SdkBlock.parse(block).to_dict() for block in surface] == surface
    else:
        assert SdkView(**surface).to_dict() == surface


def texts(surface: list[Block] | Block) -> str:
    return "\n".join(str(node["text"]) for node in _walk(surface) if isinstance(node.get("text"), str))


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


# -- App Home ---------------------------------------------------------------------------------------


def _home(channels: int = 2) -> Block:
    return home_view(
        usage={"answers": 42, "tokens": 123456},
        feedback={"up": 7, "down": 2},
        editable_channels=[(f"C{i:03d}", f"team-{i}") for i in range(channels)],
        model="grok-4.3",
    )


def test_home_says_how_to_reach_the_bot() -> None:
    shown = texts(_home())
    for needle in (
        "Mention",
        "Follow-ups",
        "Direct messages",
        "Assistant",
        "/ask",
        "/summarize",
        "/recap",
        "Summarize thread",
        "/relaydance settings",
        "grok-4.3",
    ):
        assert needle in shown


def test_home_text_has_no_stray_control_characters() -> None:
    shown = texts(_home(3))
    assert shown.count("<") == shown.count("<#C") == 3  # channel links only; `<…>` is Slack markup
    assert shown.count(">") == 3


def test_home_shows_usage_and_feedback() -> None:
    shown = texts(_home())
    assert "42" in shown and "123,456" in shown
    assert "👍 Helpful*\n7" in shown and "👎 Not helpful*\n2" in shown


def test_home_counts_missing_usage_as_zero() -> None:
    view = home_view(usage={}, feedback={}, editable_channels=[], model="m")
    assert "*Answers*\n0" in texts(view)
    assert "/relaydance settings" in texts(view)


def test_home_lists_a_settings_button_per_channel() -> None:
    buttons = [node for node in _walk(_home(3)) if node.get("action_id") == ACTION_OPEN_SETTINGS]
    assert [button["value"] for button in buttons] == ["C000", "C001", "C002"]


def test_home_lists_at_most_twenty_channels_and_counts_the_rest() -> None:
    view = _home(HOME_CHANNELS_SHOWN + 5)
    buttons = [node for node in _walk(view) if node.get("action_id") == ACTION_OPEN_SETTINGS]
    assert len(buttons) == HOME_CHANNELS_SHOWN
    assert "5 more" in texts(view)


@pytest.mark.parametrize("channels", [0, 1, 500])
def test_home_is_valid_block_kit(channels: int) -> None:
    view = _home(channels)
    assert view["type"] == "home"
    assert_within_limits(view)
    assert_slack_accepts(view)


# -- Settings modal ---------------------------------------------------------------------------------


def _modal(current: Mapping[str, object], models: list[str] = MODELS, name: str = "general") -> Block:
    return settings_modal(
        channel_id="C123", channel_name=name, current=current, defaults=DEFAULTS, models=models
    )


def submitted(view: Block) -> dict[str, dict[str, dict[str, Any]]]:
    """`view.state.values` as Slack sends it when the user saves the modal without touching it."""
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        if element["type"] == "plain_text_input":
            state = {"type": element["type"], "value": element.get("initial_value")}
        else:
            state = {"type": element["type"], "selected_option": element.get("initial_option")}
        values[block["block_id"]] = {element["action_id"]: state}
    return values


def _set_text(values: dict[str, dict[str, dict[str, Any]]], block_id: str, text: str | None) -> None:
    [state] = values[block_id].values()
    state["value"] = text


def test_modal_identifies_itself_and_its_channel() -> None:
    view = _modal({})
    assert view["type"] == "modal"
    assert view["callback_id"] == SETTINGS_MODAL
    assert view["private_metadata"] == "C123"
    assert "<#C123|general>" in texts(view)
    input_ids = [block["block_id"] for block in view["blocks"] if block["type"] == "input"]
    assert input_ids == [BLOCK_SYSTEM_PROMPT, BLOCK_MODEL, BLOCK_TEMPERATURE, BLOCK_FOLLOWUPS]


def test_channel_name_is_escaped() -> None:
    assert "<#C123|a&amp;b&lt;x&gt;>" in texts(_modal({}, name="a&b<x>|"))


ROUND_TRIPS = [
    ChannelConfig(),
    ChannelConfig(system_prompt="Answer like a pirate.\nKeep it short.", model="grok-code", temperature=0.7),
    ChannelConfig(temperature=0.0, followups=False),
    ChannelConfig(temperature=2.0, followups=True),
    ChannelConfig(temperature=1e-05, model="grok-4.3"),
    ChannelConfig(model="retired-model", system_prompt="p" * SYSTEM_PROMPT_LIMIT),
]


@pytest.mark.parametrize("config", ROUND_TRIPS, ids=repr)
def test_unchanged_modal_saves_what_it_showed(config: ChannelConfig) -> None:
    current = dataclasses.asdict(config)
    view = _modal(current)
    assert_within_limits(view)
    assert_slack_accepts(view)
    parsed, errors = parse_settings_submission(submitted(view))
    assert errors == {}
    assert parsed == current
    assert ChannelConfig(**parsed) == config


def test_default_model_option_is_first_and_means_none() -> None:
    select = next(b["element"] for b in _modal({})["blocks"] if b.get("block_id") == BLOCK_MODEL)
    assert select["options"][0]["value"] == MODEL_DEFAULT
    assert "grok-4.3" in select["options"][0]["text"]["text"]
    assert select["initial_option"] == select["options"][0]
    assert [o["value"] for o in select["options"][1:]] == MODELS


def test_model_menu_is_capped_at_a_hundred_options_and_keeps_the_current_model() -> None:
    models = [f"model-{i:03d}" for i in range(150)]
    view = _modal({"model": "model-149"}, models=models)
    select = next(b["element"] for b in view["blocks"] if b.get("block_id") == BLOCK_MODEL)
    assert len(select["options"]) == 100
    assert select["initial_option"]["value"] == "model-149"
    assert_within_limits(view)
    assert_slack_accepts(view)


def test_long_names_fit_option_limits() -> None:
    long_name = "m" * 120
    view = _modal({"model": long_name}, models=[long_name, "x" * 200])
    select = next(b["element"] for b in view["blocks"] if b.get("block_id") == BLOCK_MODEL)
    assert [o["value"] for o in select["options"]] == [MODEL_DEFAULT, long_name]  # 200 chars: no valid value
    assert_within_limits(view)
    parsed, _ = parse_settings_submission(submitted(view))
    assert parsed["model"] == long_name


def test_default_prompt_shows_as_placeholder() -> None:
    element = next(b["element"] for b in _modal({})["blocks"] if b.get("block_id") == BLOCK_SYSTEM_PROMPT)
    assert "initial_value" not in element
    assert element["placeholder"]["text"] == DEFAULTS["system_prompt"]
    assert element["multiline"] is True


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0.7", 0.7),
        ("0,7", 0.7),
        (" 1 ", 1.0),
        ("0", 0.0),
        ("2", 2.0),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_temperature_typed(typed: str | None, expected: float | None) -> None:
    values = submitted(_modal({}))
    _set_text(values, BLOCK_TEMPERATURE, typed)
    parsed, errors = parse_settings_submission(values)
    assert errors == {}
    assert parsed["temperature"] == expected


@pytest.mark.parametrize("typed", ["hot", "-0.1", "2.01", "3", "nan", "inf", "1e400", "0.7.1"])
def test_bad_temperature_is_an_error_on_its_block(typed: str) -> None:
    values = submitted(_modal({"model": "grok-code"}))
    _set_text(values, BLOCK_TEMPERATURE, typed)
    parsed, errors = parse_settings_submission(values)
    assert list(errors) == [BLOCK_TEMPERATURE]
    assert "0 to 2" in errors[BLOCK_TEMPERATURE]
    assert parsed["model"] == "grok-code"


def test_too_long_system_prompt_is_an_error() -> None:
    values = submitted(_modal({}))
    _set_text(values, BLOCK_SYSTEM_PROMPT, "p" * (SYSTEM_PROMPT_LIMIT + 1))
    _, errors = parse_settings_submission(values)
    assert list(errors) == [BLOCK_SYSTEM_PROMPT]


def test_system_prompt_is_stripped_and_blank_means_default() -> None:
    values = submitted(_modal({}))
    _set_text(values, BLOCK_SYSTEM_PROMPT, "  Be brief.\n")
    assert parse_settings_submission(values)[0]["system_prompt"] == "Be brief."
    _set_text(values, BLOCK_SYSTEM_PROMPT, " \n ")
    assert parse_settings_submission(values)[0]["system_prompt"] is None


def test_missing_state_means_defaults() -> None:
    assert parse_settings_submission({}) == (
        dict.fromkeys(("system_prompt", "model", "temperature", "followups")),
        {},
    )


def test_ids_are_the_agreed_strings() -> None:
    assert (ACTION_STOP, ACTION_REGENERATE, ACTION_FEEDBACK_UP, ACTION_FEEDBACK_DOWN) == (
        "answer_stop",
        "answer_regenerate",
        "answer_feedback_up",
        "answer_feedback_down",
    )
    assert (SETTINGS_MODAL, ACTION_OPEN_SETTINGS, blocks.SHORTCUT_SUMMARIZE) == (
        "channel_settings",
        "open_channel_settings",
        "summarize_thread",
    )
