"""Block Kit checks shared by the tests of `bot.slack.blocks` and `bot.slack.views`: Slack's limits,
written out independently of the builders, and a round trip through slack-sdk's models."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from slack_sdk.models.blocks import Block as SdkBlock
from slack_sdk.models.views import View as SdkView

from bot.slack.blocks import Block


def walk(node: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


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
    for node in walk(block_list):
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
    return "\n".join(str(node["text"]) for node in walk(surface) if isinstance(node.get("text"), str))
