"""Block Kit for the bot's views: the App Home tab and the channel settings modal.

Whole surfaces with their own IDs, inputs and limits, kept apart from the answer messages in
`bot.slack.blocks`; the modal's submission is read back here too. Pure builders, as there. Slack's
limits beyond those listed there (Block Kit reference):

- a view holds at most 100 blocks; a `header`'s text is up to 150 characters;
- a modal's title, submit and close texts hold 24 characters, `private_metadata` 3,000, `callback_id` 255;
- a `static_select` offers up to 100 options, `radio_buttons` up to 10; an option's text is up to
  75 characters, its value up to 150; `initial_option` must equal one of the options exactly;
- a `plain_text_input` holds at most 3,000 characters (no higher `max_length`), its placeholder 150.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from bot.slack.blocks import Block, button, mrkdwn_text, plain_text
from bot.text.mrkdwn import escape_mrkdwn

__all__ = [
    "ACTION_OPEN_SETTINGS",
    "BLOCK_FOLLOWUPS",
    "BLOCK_KNOWLEDGE",
    "BLOCK_MODEL",
    "BLOCK_SYSTEM_PROMPT",
    "BLOCK_TEMPERATURE",
    "FOLLOWUPS_DEFAULT",
    "FOLLOWUPS_OFF",
    "FOLLOWUPS_ON",
    "HOME_CHANNELS_SHOWN",
    "INPUT_FOLLOWUPS",
    "INPUT_KNOWLEDGE",
    "INPUT_MODEL",
    "INPUT_SYSTEM_PROMPT",
    "INPUT_TEMPERATURE",
    "MODEL_DEFAULT",
    "SETTINGS_MODAL",
    "SYSTEM_PROMPT_LIMIT",
    "TEMPERATURE_MAX",
    "TEMPERATURE_MIN",
    "home_view",
    "parse_settings_submission",
    "settings_modal",
]

# -- IDs shared with the handlers ------------------------------------------------------------------

ACTION_OPEN_SETTINGS: Final = "open_channel_settings"
SETTINGS_MODAL: Final = "channel_settings"

# Settings modal: one input block per setting; the state of each arrives under
# `view["state"]["values"][BLOCK_…][INPUT_…]`.
BLOCK_SYSTEM_PROMPT: Final = "settings_system_prompt"
BLOCK_MODEL: Final = "settings_model"
BLOCK_TEMPERATURE: Final = "settings_temperature"
BLOCK_FOLLOWUPS: Final = "settings_followups"
BLOCK_KNOWLEDGE: Final = "settings_knowledge"
INPUT_SYSTEM_PROMPT: Final = "system_prompt"
INPUT_MODEL: Final = "model"
INPUT_TEMPERATURE: Final = "temperature"
INPUT_FOLLOWUPS: Final = "followups"
INPUT_KNOWLEDGE: Final = "knowledge"

MODEL_DEFAULT: Final = "__default__"
"""Value of the model menu's "use the default" option (no model name starts with two underscores)."""
FOLLOWUPS_DEFAULT: Final = "default"
FOLLOWUPS_ON: Final = "on"
FOLLOWUPS_OFF: Final = "off"

# -- Limits ------------------------------------------------------------------------------------------

SYSTEM_PROMPT_LIMIT: Final = 3000
"""Longest per-channel system prompt: a `plain_text_input` cannot hold more than 3,000 characters."""
TEMPERATURE_MIN: Final = 0.0
TEMPERATURE_MAX: Final = 2.0
HOME_CHANNELS_SHOWN: Final = 20
"""Channels with a settings button on the Home tab; more are counted, not listed."""
_MENU_OPTIONS_MAX: Final = 100
_OPTION_TEXT_MAX: Final = 75
_OPTION_VALUE_MAX: Final = 150
_PLACEHOLDER_MAX: Final = 150
_SETTING_KEYS: Final = ("system_prompt", "model", "temperature", "followups", "knowledge")


# -- App Home ----------------------------------------------------------------------------------------

_HOW_TO_REACH = "\n".join(
    [
        "• *Mention me* in a channel: `@RelayDance how do I rotate our API keys?` I answer in the thread.",
        "• *Follow-ups*: once I have answered in a thread, keep talking there without mentioning me "
        "(unless the channel turned that off).",
        "• *Direct messages*: write to me in the Messages tab.",
        "• *Assistant pane*: open RelayDance from the AI apps button at the top of Slack to chat beside "
        "any channel.",
        "• `/ask &lt;question&gt;`: ask from any channel I am in.",
        "• `/summarize`: a summary of the recent conversation in this channel.",
        "• `/recap`: a recap of what happened in this channel lately.",
        "• *Summarize thread*: the message shortcut (⋮ on a message) summarizes that thread.",
        "• `/relaydance settings`: this channel's system prompt, model, temperature and follow-ups.",
    ]
)


def home_view(
    *,
    usage: Mapping[str, int],
    feedback: Mapping[str, int],
    editable_channels: Sequence[tuple[str, str]],
    model: str,
) -> Block:
    """The App Home tab for one user.

    `usage` has the user's `answers` and `tokens`; `feedback` has the `up` and `down` votes;
    `editable_channels` are `(channel_id, name)` pairs the user may configure, each shown with a
    Settings button (`ACTION_OPEN_SETTINGS`, value = channel id), the first `HOME_CHANNELS_SHOWN` only.
    `model` is the default model.
    """
    blocks: list[Block] = [
        {"type": "header", "text": plain_text("RelayDance")},
        {
            "type": "section",
            "text": mrkdwn_text(
                "I answer questions with RelayDance's chat models, streaming the answer into the "
                "thread as it is written, and I read the whole thread so you can ask follow-ups."
            ),
        },
        {"type": "section", "text": mrkdwn_text(_HOW_TO_REACH)},
        {"type": "context", "elements": [mrkdwn_text(f"Default model: `{escape_mrkdwn(model)}`")]},
        {"type": "divider"},
        {"type": "header", "text": plain_text("Your usage")},
        {
            "type": "section",
            "fields": [
                mrkdwn_text(f"*Answers*\n{_count(usage.get('answers', 0))}"),
                mrkdwn_text(f"*Tokens*\n{_count(usage.get('tokens', 0))}"),
                mrkdwn_text(f"*👍 Helpful*\n{_count(feedback.get('up', 0))}"),
                mrkdwn_text(f"*👎 Not helpful*\n{_count(feedback.get('down', 0))}"),
            ],
        },
        {"type": "divider"},
        {"type": "header", "text": plain_text("Channel settings")},
    ]
    shown = editable_channels[:HOME_CHANNELS_SHOWN]
    if not shown:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn_text(
                        "No channels to configure here. Run `/relaydance settings` in a channel I am in."
                    )
                ],
            }
        )
    for channel_id, name in shown:
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn_text(_channel_link(channel_id, name)),
                "accessory": button("Settings", ACTION_OPEN_SETTINGS, channel_id),
            }
        )
    hidden = len(editable_channels) - len(shown)
    if hidden > 0:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn_text(f"…and {_count(hidden)} more: run `/relaydance settings` in the channel.")
                ],
            }
        )
    return {"type": "home", "blocks": blocks}


# -- Channel settings modal --------------------------------------------------------------------------


def settings_modal(
    *,
    channel_id: str,
    channel_name: str,
    current: Mapping[str, object],
    defaults: Mapping[str, object],
    models: Sequence[str],
) -> Block:
    """The channel settings modal (`callback_id=SETTINGS_MODAL`, `private_metadata` = channel id).

    `current` and `defaults` have the keys `system_prompt`, `model`, `temperature`, `followups`
    and `knowledge`
    (a `ChannelConfig` as a mapping, e.g. `dataclasses.asdict`); a None in `current` means "use the
    default", and the inputs start empty (or on "Default") for it, so saving unchanged keeps it so.
    `models` fills the model menu after a "Default" option; the current model is offered even if
    `models` no longer lists it. Menus hold 100 options, so later models are left out.
    """
    prompt = _str_or_none(current.get("system_prompt"))
    default_prompt = _str_or_none(defaults.get("system_prompt")) or ""
    prompt_input: Block = {
        "type": "plain_text_input",
        "action_id": INPUT_SYSTEM_PROMPT,
        "multiline": True,
        "max_length": SYSTEM_PROMPT_LIMIT,
    }
    if prompt:
        prompt_input["initial_value"] = prompt[:SYSTEM_PROMPT_LIMIT]
    if default_prompt:
        prompt_input["placeholder"] = plain_text(_shorten(default_prompt, _PLACEHOLDER_MAX))

    model = _str_or_none(current.get("model"))
    default_model = _str_or_none(defaults.get("model")) or "the app's default"
    model_options = _model_options(models, model, default_model)
    initial_model = next(
        (option for option in model_options if model is not None and option["value"] == model),
        model_options[0],
    )

    temperature = _float_or_none(current.get("temperature"))
    default_temperature = _float_or_none(defaults.get("temperature"))
    temperature_input: Block = {"type": "plain_text_input", "action_id": INPUT_TEMPERATURE}
    if temperature is not None:
        temperature_input["initial_value"] = _format_number(temperature)
    temperature_input["placeholder"] = plain_text(
        f"Default: {_format_number(default_temperature)}"
        if default_temperature is not None
        else "Default: the model's own"
    )

    followups = current.get("followups")
    default_followups = "on" if defaults.get("followups") else "off"
    followup_options = [
        _option(f"Default ({default_followups})", FOLLOWUPS_DEFAULT),
        _option("On: answer follow-ups in threads I answered in", FOLLOWUPS_ON),
        _option("Off: answer only when mentioned", FOLLOWUPS_OFF),
    ]
    initial_followups = followup_options[0 if followups is None else 1 if followups else 2]
    knowledge = current.get("knowledge")
    knowledge_options = [
        _option(f"Default ({'on' if defaults.get('knowledge') else 'off'})", FOLLOWUPS_DEFAULT),
        _option("On: answer from past threads people may see, with links", FOLLOWUPS_ON),
        _option("Off: answer from this conversation only", FOLLOWUPS_OFF),
    ]
    initial_knowledge = knowledge_options[0 if knowledge is None else 1 if knowledge else 2]

    blocks: list[Block] = [
        {
            "type": "section",
            "text": mrkdwn_text(
                f"How I answer in {_channel_link(channel_id, channel_name)}. "
                "Empty fields and *Default* follow the app's settings."
            ),
        },
        {
            "type": "input",
            "block_id": BLOCK_SYSTEM_PROMPT,
            "optional": True,
            "label": plain_text("System prompt"),
            "hint": plain_text("Instructions given to the model before every conversation in this channel."),
            "element": prompt_input,
        },
        {
            "type": "input",
            "block_id": BLOCK_MODEL,
            "label": plain_text("Model"),
            "element": {
                "type": "static_select",
                "action_id": INPUT_MODEL,
                "options": model_options,
                "initial_option": initial_model,
            },
        },
        {
            "type": "input",
            "block_id": BLOCK_TEMPERATURE,
            "optional": True,
            "label": plain_text("Temperature"),
            "hint": plain_text("A number from 0 to 2: lower is more focused, higher more varied."),
            "element": temperature_input,
        },
        {
            "type": "input",
            "block_id": BLOCK_FOLLOWUPS,
            "label": plain_text("Follow-ups without a mention"),
            "element": {
                "type": "radio_buttons",
                "action_id": INPUT_FOLLOWUPS,
                "options": followup_options,
                "initial_option": initial_followups,
            },
        },
        {
            "type": "input",
            "block_id": BLOCK_KNOWLEDGE,
            "label": plain_text("Team knowledge"),
            "element": {
                "type": "radio_buttons",
                "action_id": INPUT_KNOWLEDGE,
                "options": knowledge_options,
                "initial_option": initial_knowledge,
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": SETTINGS_MODAL,
        "private_metadata": channel_id,
        "title": plain_text("Channel settings"),
        "submit": plain_text("Save"),
        "close": plain_text("Cancel"),
        "blocks": blocks,
    }


def parse_settings_submission(values: Mapping[str, Any]) -> tuple[dict[str, object], dict[str, str]]:
    """Read the settings modal's `view["state"]["values"]`.

    Returns the settings (keys as `ChannelConfig`'s fields; None = use the default) and the errors
    as `{block_id: message}`, ready for `ack(response_action="errors", errors=...)`. Save only when
    the errors are empty.
    """
    settings: dict[str, object] = dict.fromkeys(_SETTING_KEYS)
    errors: dict[str, str] = {}

    prompt = _input_value(values, BLOCK_SYSTEM_PROMPT, INPUT_SYSTEM_PROMPT)
    if prompt is not None and len(prompt) > SYSTEM_PROMPT_LIMIT:
        errors[BLOCK_SYSTEM_PROMPT] = f"At most {SYSTEM_PROMPT_LIMIT:,} characters (this is {len(prompt):,})."
    else:
        settings["system_prompt"] = prompt

    model = _selected_value(values, BLOCK_MODEL, INPUT_MODEL)
    settings["model"] = None if model in (None, MODEL_DEFAULT) else model

    raw_temperature = _input_value(values, BLOCK_TEMPERATURE, INPUT_TEMPERATURE)
    if raw_temperature is not None:
        temperature = _parse_temperature(raw_temperature)
        if temperature is None:
            errors[BLOCK_TEMPERATURE] = "Enter a number from 0 to 2, like 0.7, or leave it empty."
        else:
            settings["temperature"] = temperature

    followups = _selected_value(values, BLOCK_FOLLOWUPS, INPUT_FOLLOWUPS)
    settings["followups"] = {FOLLOWUPS_ON: True, FOLLOWUPS_OFF: False}.get(followups or "")
    knowledge = _selected_value(values, BLOCK_KNOWLEDGE, INPUT_KNOWLEDGE)
    settings["knowledge"] = {FOLLOWUPS_ON: True, FOLLOWUPS_OFF: False}.get(knowledge or "")

    return settings, errors


# -- Helpers -----------------------------------------------------------------------------------------


def _option(text: str, value: str) -> Block:
    return {"text": plain_text(_shorten(text, _OPTION_TEXT_MAX)), "value": value}


def _model_options(models: Sequence[str], current: str | None, default: str) -> list[Block]:
    room = _MENU_OPTIONS_MAX - 1  # after the "Default" option
    names = [name for name in dict.fromkeys(models) if name and len(name) <= _OPTION_VALUE_MAX][:room]
    if current is not None and current not in names and len(current) <= _OPTION_VALUE_MAX:
        names = [current, *names[: room - 1]]
    return [_option(f"Default ({default})", MODEL_DEFAULT), *(_option(name, name) for name in names)]


def _channel_link(channel_id: str, name: str) -> str:
    """`<#C123|name>`: Slack shows the channel's current name, `name` only where it cannot."""
    label = escape_mrkdwn(name.replace("|", "")).strip()
    return f"<#{channel_id}|{label}>" if label else f"<#{channel_id}>"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _count(number: int) -> str:
    return f"{number:,}"


def _format_number(value: float) -> str:
    return f"{value:g}"


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _float_or_none(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _state(values: Mapping[str, Any], block_id: str, action_id: str) -> Mapping[str, Any]:
    block = values.get(block_id)
    state = block.get(action_id) if isinstance(block, Mapping) else None
    return state if isinstance(state, Mapping) else {}


def _input_value(values: Mapping[str, Any], block_id: str, action_id: str) -> str | None:
    """A text input's value, stripped; None when empty (Slack sends `"value": null` for that)."""
    value = _state(values, block_id, action_id).get("value")
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def _selected_value(values: Mapping[str, Any], block_id: str, action_id: str) -> str | None:
    option = _state(values, block_id, action_id).get("selected_option")
    value = option.get("value") if isinstance(option, Mapping) else None
    return value if isinstance(value, str) else None


def _parse_temperature(raw: str) -> float | None:
    """A number from 0 to 2 (a decimal comma is accepted); None when it is not one."""
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        return None
    if not math.isfinite(value) or not TEMPERATURE_MIN <= value <= TEMPERATURE_MAX:
        return None
    return value
