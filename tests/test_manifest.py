"""The two Slack app manifests declare the same app, and exactly what the handlers register.

`manifest.yml` is for Socket Mode (no URLs), `manifest.http.yml` for HTTP mode (every URL points at
the bot's `/slack/events`). Apart from that they must not drift apart, and what they subscribe to
must be what `handlers.registry` says the app listens for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.slack.blocks import SHORTCUT_SUMMARIZE
from bot.text.user_input import parse_duration, parse_message_link
from handlers import registry
from handlers.assistant import STATIC_PROMPTS, suggested_prompts

ROOT = Path(__file__).resolve().parent.parent
SOCKET = ROOT / "manifest.yml"
HTTP = ROOT / "manifest.http.yml"
EVENTS_URL = "https://YOUR-HOST/slack/events"

SCOPES = registry.BOT_SCOPES
# The scope Slack requires before it delivers each bot event.
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
    "assistant_thread_started": "assistant:write",
    "assistant_thread_context_changed": "assistant:write",
    "app_context_changed": "assistant:write",
}


def load(path: Path) -> dict[str, Any]:
    """A manifest as Slack reads it (YAML; `safe_load`, as nothing in it needs more)."""
    with path.open(encoding="utf-8") as file:
        data = yaml.safe_load(file)
    assert isinstance(data, dict), f"{path.name} is not a mapping"
    return data


def registered_event(manifest_event: str) -> str:
    """The type Bolt registers for a manifest subscription: `message.im` and the like are `message`."""
    return manifest_event.split(".", 1)[0]


def scopes(manifest: Mapping[str, Any]) -> set[str]:
    return set(manifest["oauth_config"]["scopes"]["bot"])


def bot_events(manifest: Mapping[str, Any]) -> list[str]:
    return list(manifest["settings"]["event_subscriptions"]["bot_events"])


def commands(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(manifest["features"]["slash_commands"])


def shortcuts(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(manifest["features"]["shortcuts"])


def urls(node: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Every `url`-like key anywhere in the manifest, with where it is."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key in ("url", "request_url", "message_menu_options_url") or str(key).endswith("_url"):
                yield where, value
            yield from urls(value, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from urls(item, f"{path}[{index}]")


def without_transport(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest minus what legitimately differs between the modes: URLs and the Socket Mode flag."""

    def strip(node: object) -> object:
        if isinstance(node, Mapping):
            return {
                key: strip(value)
                for key, value in node.items()
                if key not in ("url", "request_url", "socket_mode_enabled")
            }
        if isinstance(node, list):
            return [strip(item) for item in node]
        return node

    result = strip(manifest)
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="module", params=[SOCKET, HTTP], ids=lambda path: path.name)
def manifest(request: pytest.FixtureRequest) -> dict[str, Any]:
    path = request.param
    assert isinstance(path, Path)
    return load(path)


# -- Both manifests ---------------------------------------------------------------------------------


def test_both_declare_the_same_app() -> None:
    assert without_transport(load(SOCKET)) == without_transport(load(HTTP))


def test_scopes_are_exactly_the_needed_ones(manifest: dict[str, Any]) -> None:
    declared = manifest["oauth_config"]["scopes"]["bot"]
    assert len(declared) == len(set(declared)), "a scope is listed twice"
    assert set(declared) == SCOPES


def test_every_event_has_its_scope(manifest: dict[str, Any]) -> None:
    for event in bot_events(manifest):
        if event in EVENT_SCOPES:
            assert EVENT_SCOPES[event] in scopes(manifest), event


def test_events_are_what_the_handlers_register(manifest: dict[str, Any]) -> None:
    declared = bot_events(manifest)
    assert len(declared) == len(set(declared)), "an event is listed twice"
    assert {registered_event(event) for event in declared} == registry.EVENTS
    assert {"message.channels", "message.groups", "message.im", "message.mpim"} <= set(declared)


def test_commands_are_what_the_handlers_register(manifest: dict[str, Any]) -> None:
    declared = [command["command"] for command in commands(manifest)]
    assert len(declared) == len(set(declared))
    assert set(declared) == registry.COMMANDS
    for command in commands(manifest):
        assert command["should_escape"] is False, command["command"]
        assert 1 <= len(command["description"]) <= 2000
        assert 1 <= len(command["usage_hint"]) <= 1000
        assert 2 <= len(command["command"]) <= 32


def test_shortcuts_are_what_the_handlers_register(manifest: dict[str, Any]) -> None:
    declared = [shortcut["callback_id"] for shortcut in shortcuts(manifest)]
    assert set(declared) == registry.SHORTCUTS == {SHORTCUT_SUMMARIZE}
    [summarize] = shortcuts(manifest)
    assert summarize["type"] == "message"
    assert summarize["name"] == "Summarize thread"
    assert 1 <= len(summarize["name"]) <= 24 and 1 <= len(summarize["description"]) <= 150


def test_app_surfaces(manifest: dict[str, Any]) -> None:
    features = manifest["features"]
    assert manifest["display_information"]["name"] == "RelayDance"
    assert len(manifest["display_information"].get("description", "")) <= 140
    assert features["bot_user"] == {"display_name": "RelayDance", "always_online": True}
    assert features["app_home"] == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": False,
    }
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_agent_view_is_declared_with_the_prompts_the_code_offers(manifest: dict[str, Any]) -> None:
    features = manifest["features"]
    assert "assistant_view" not in features  # the agent experience replaces it
    agent = features["agent_view"]
    assert set(agent) <= {"agent_description", "suggested_prompts"}
    assert agent["agent_description"].strip()
    prompts = agent["suggested_prompts"]
    assert 1 <= len(prompts) <= 4  # assistant.threads.setSuggestedPrompts takes at most four
    for prompt in prompts:
        assert set(prompt) == {"title", "message"}
    # The same prompts the bot pins when it does not know which channel is in view.
    assert prompts == suggested_prompts(None)
    assert prompts == [dict(p) for p in STATIC_PROMPTS]


def test_no_assistant_view_event_is_subscribed(manifest: dict[str, Any]) -> None:
    assert not set(bot_events(manifest)) & registry.ASSISTANT_VIEW_EVENTS
    assert "app_context_changed" in bot_events(manifest)


def hint_of(manifest: Mapping[str, Any], name: str) -> str:
    [command] = [c for c in commands(manifest) if c["command"] == name]
    return str(command["usage_hint"])


def test_recap_hint_shows_only_periods_the_command_accepts(manifest: dict[str, Any]) -> None:
    hint = hint_of(manifest, "/recap")
    examples = re.findall(r"\b\d+\s*[a-z]+\b", hint)
    assert len(examples) >= 3, hint
    for example in examples:
        parse_duration(example)  # raises for a period /recap would refuse


def test_summarize_hint_asks_for_the_link_it_needs(manifest: dict[str, Any]) -> None:
    assert hint_of(manifest, "/summarize") == "[message link]"
    with pytest.raises(ValueError):
        parse_message_link("what to focus on")  # what the old hint invited


def test_relaydance_hint_offers_only_what_is_implemented(manifest: dict[str, Any]) -> None:
    """handlers/commands.py implements `/relaydance settings` and nothing else (no `help`)."""
    options = {word.strip(" []") for word in hint_of(manifest, "/relaydance").split("|")}
    assert options == {"settings"}


def test_the_scopes_cover_group_dms() -> None:
    """Recaps and summaries of a group DM call conversations.info / .members there."""
    assert {"mpim:read", "mpim:history"} <= registry.BOT_SCOPES


# -- Each transport ---------------------------------------------------------------------------------


def test_socket_mode_manifest_has_no_urls() -> None:
    manifest = load(SOCKET)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert list(urls(manifest)) == []


def test_http_manifest_sends_everything_to_the_bot() -> None:
    manifest = load(HTTP)
    assert manifest["settings"].get("socket_mode_enabled", False) is False
    assert manifest["settings"]["event_subscriptions"]["request_url"] == EVENTS_URL
    assert manifest["settings"]["interactivity"]["request_url"] == EVENTS_URL
    for command in commands(manifest):
        assert command["url"] == EVENTS_URL, command["command"]
    assert {value for _, value in urls(manifest)} == {EVENTS_URL}
    assert len(list(urls(manifest))) == 2 + len(commands(manifest))
