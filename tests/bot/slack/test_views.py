from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

from bot.slack.blocks import Block
from bot.slack.views import (
    ACTION_OPEN_SETTINGS,
    BLOCK_FOLLOWUPS,
    BLOCK_KNOWLEDGE,
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
from tests.bot.slack.block_kit_checks import assert_slack_accepts, assert_within_limits, texts, walk

DEFAULTS: Mapping[str, object] = {
    "system_prompt": "You are a helpful assistant in a Slack workspace.",
    "model": "grok-4.3",
    "temperature": None,
    "followups": True,
    "knowledge": True,
}
MODELS = ["grok-4.3", "grok-4.3-mini", "grok-code"]


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
    buttons = [node for node in walk(_home(3)) if node.get("action_id") == ACTION_OPEN_SETTINGS]
    assert [button["value"] for button in buttons] == ["C000", "C001", "C002"]


def test_home_lists_at_most_twenty_channels_and_counts_the_rest() -> None:
    view = _home(HOME_CHANNELS_SHOWN + 5)
    buttons = [node for node in walk(view) if node.get("action_id") == ACTION_OPEN_SETTINGS]
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
    assert input_ids == [
        BLOCK_SYSTEM_PROMPT,
        BLOCK_MODEL,
        BLOCK_TEMPERATURE,
        BLOCK_FOLLOWUPS,
        BLOCK_KNOWLEDGE,
    ]


def test_channel_name_is_escaped() -> None:
    assert "<#C123|a&amp;b&lt;x&gt;>" in texts(_modal({}, name="a&b<x>|"))


ROUND_TRIPS = [
    ChannelConfig(),
    ChannelConfig(system_prompt="Answer like a pirate.\nKeep it short.", model="grok-code", temperature=0.7),
    ChannelConfig(temperature=0.0, followups=False),
    ChannelConfig(temperature=2.0, followups=True),
    ChannelConfig(knowledge=False),
    ChannelConfig(followups=False, knowledge=True),
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
        dict.fromkeys(("system_prompt", "model", "temperature", "followups", "knowledge")),
        {},
    )


def test_ids_are_the_agreed_strings() -> None:
    assert (SETTINGS_MODAL, ACTION_OPEN_SETTINGS) == ("channel_settings", "open_channel_settings")
