"""Per-channel settings (`/relaydance settings`, the modal, its submission) and the App Home tab.

The modal is filled in from the view the bot opened (`modal_state`), so the submission carries
exactly the block and action ids the bot drew; its effect is checked on the next RelayDance request.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.settings import DEFAULT_SYSTEM_PROMPT
from bot.slack.views import (
    ACTION_OPEN_SETTINGS,
    BLOCK_TEMPERATURE,
    INPUT_FOLLOWUPS,
    INPUT_MODEL,
    INPUT_SYSTEM_PROMPT,
    INPUT_TEMPERATURE,
    MODEL_DEFAULT,
    SETTINGS_MODAL,
    home_view,
)
from tests.e2e_harness import BotUnderTest
from tests.fakes.interactions import app_home_opened, block_actions, buttons, modal_state, view_submission
from tests.fakes.signing import app_mention, message_event

ADMIN = "U9"


@pytest.fixture(autouse=True)
def people(bot: BotUnderTest) -> None:
    bot.slack.add_user(ADMIN, "root", is_admin=True)
    bot.slack.add_channel("C2", name="random")


async def open_modal(bot: BotUnderTest, *, user: str = ADMIN, channel: str = "C1") -> dict[str, Any]:
    """Run `/relaydance settings` and return the modal as views.open answered it."""
    opened = len(bot.slack.calls_to("views.open"))
    response = await bot.command("/relaydance", "settings", user=user, channel=channel)
    assert response.status_code == 200 and response.text == ""  # a bare ack: the modal says the rest
    calls = await bot.slack.wait_for("views.open", count=opened + 1)
    assert calls[-1].ok, calls[-1].response
    view: dict[str, Any] = calls[-1].response["view"]
    return view


async def submit(
    bot: BotUnderTest, view: dict[str, Any], answers: dict[str, str | None], user: str = ADMIN
) -> httpx.Response:
    payload = view_submission(view, user=user, values=modal_state(view, answers))
    return await bot.send_interaction(payload)


async def ask(bot: BotUnderTest, channel: str, text: str = "<@UBOT> hello") -> dict[str, Any]:
    """Mention the bot in `channel`, wait for the answer, and return the RelayDance request body."""
    before = bot.running.parts.tasks.finished
    await bot.send(app_mention(text=text, user="U1", channel=channel))
    await bot.answered(before + 1)
    body: dict[str, Any] = bot.relay.requests[-1].json
    return body


def options(view: dict[str, Any], action_id: str) -> list[str]:
    [element] = [b["element"] for b in view["blocks"] if b.get("element", {}).get("action_id") == action_id]
    return [o["value"] for o in element["options"]]


def element(view: dict[str, Any], action_id: str) -> dict[str, Any]:
    [found] = [b["element"] for b in view["blocks"] if b.get("element", {}).get("action_id") == action_id]
    return dict(found)


async def test_an_admin_gets_the_modal_with_the_models_relaydance_lists(bot: BotUnderTest) -> None:
    bot.relay.models = ["grok-4.3", "grok-4.3-mini", "grok-5-preview"]
    view = await open_modal(bot)

    [call] = bot.slack.calls_to("views.open")
    assert call.params["trigger_id"] == "13345224609.738474920.8088930838d88f008e0"  # the command's
    assert view["callback_id"] == SETTINGS_MODAL and view["private_metadata"] == "C1"
    assert options(view, INPUT_MODEL) == [MODEL_DEFAULT, "grok-4.3", "grok-4.3-mini", "grok-5-preview"]
    assert [(r.method, r.path) for r in bot.relay.requests] == [("GET", "/v1/models")]


async def test_someone_else_is_refused_and_gets_no_modal(bot: BotUnderTest) -> None:
    response = await bot.command("/relaydance", "settings", user="U1")
    assert response.status_code == 200
    # A bare-text acknowledgement: Slack shows it to the user alone.
    assert response.text == "Only workspace admins and the bot's admins can change channel settings."
    await bot.idle()
    assert bot.slack.calls_to("views.open") == []
    assert bot.relay.requests == []


async def test_saved_settings_change_the_channels_next_request(bot: BotUnderTest) -> None:
    view = await open_modal(bot)
    response = await submit(
        bot,
        view,
        {
            INPUT_SYSTEM_PROMPT: "Answer like a pirate.",
            INPUT_MODEL: "grok-4.3-mini",
            INPUT_TEMPERATURE: "0.3",
        },
    )
    assert response.status_code == 200 and response.text == ""  # accepted: the modal closes

    body = await ask(bot, "C1")
    assert body["model"] == "grok-4.3-mini"
    assert body["temperature"] == 0.3
    assert body["messages"][0] == {"role": "system", "content": "Answer like a pirate."}

    other = await ask(bot, "C2")  # another channel keeps the app's defaults
    assert other["model"] == "grok-4.3" and "temperature" not in other
    assert other["messages"][0] == {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}

    reopened = await open_modal(bot)  # the modal shows what was saved
    assert element(reopened, INPUT_SYSTEM_PROMPT)["initial_value"] == "Answer like a pirate."
    assert element(reopened, INPUT_MODEL)["initial_option"]["value"] == "grok-4.3-mini"
    assert element(reopened, INPUT_TEMPERATURE)["initial_value"] == "0.3"


@pytest.mark.parametrize("temperature", ["warm", "2.5", "-0.1"])
async def test_a_bad_temperature_is_refused_in_the_modal_and_changes_nothing(
    bot: BotUnderTest, temperature: str
) -> None:
    view = await open_modal(bot)
    response = await submit(
        bot,
        view,
        {
            INPUT_SYSTEM_PROMPT: "Answer like a pirate.",
            INPUT_MODEL: "grok-4.3-mini",
            INPUT_TEMPERATURE: temperature,
        },
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "errors" and list(answer["errors"]) == [BLOCK_TEMPERATURE]

    body = await ask(bot, "C1")
    assert body["model"] == "grok-4.3" and "temperature" not in body
    assert body["messages"][0] == {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}


async def test_a_submission_by_someone_who_may_not_change_settings_changes_nothing(bot: BotUnderTest) -> None:
    view = await open_modal(bot)
    response = await submit(bot, view, {INPUT_MODEL: "grok-4.3-mini"}, user="U2")
    assert response.json()["response_action"] == "errors"
    assert (await ask(bot, "C1"))["model"] == "grok-4.3"


async def test_follow_ups_turned_off_for_a_channel_stop_there_only(bot: BotUnderTest) -> None:
    view = await open_modal(bot)
    assert (await submit(bot, view, {INPUT_FOLLOWUPS: "off"})).text == ""

    for answered, channel in enumerate(("C1", "C2"), start=1):
        mention = app_mention(text="<@UBOT> what is our on-call rota?", user="U1", channel=channel)
        await bot.send(mention)
        await bot.answered(answered)
        follow_up = message_event(
            text=f"and next week in {channel}?", user="U2", channel=channel, thread_ts=mention["ts"]
        )
        await bot.send(follow_up)
    await bot.answered(3)  # C1's mention, C2's mention and C2's follow-up
    await bot.idle()
    asked = [r.json["messages"][-1]["content"] for r in bot.relay.requests if r.method == "POST"]
    assert asked == [
        "ada: what is our on-call rota?",
        "ada: what is our on-call rota?",
        "grace: and next week in C2?",
    ]


# -- App Home -----------------------------------------------------------------------------------------


async def test_app_home_offers_an_admin_the_configured_channels_and_opens_their_settings(
    bot: BotUnderTest,
) -> None:
    view = await open_modal(bot)
    await submit(bot, view, {INPUT_SYSTEM_PROMPT: "Be brief."})

    await bot.send(app_home_opened(user=ADMIN))
    await bot.slack.wait_for("views.publish")
    home = bot.slack.home_views[ADMIN]
    assert buttons(home["blocks"]) == {ACTION_OPEN_SETTINGS: "C1"}

    press = block_actions(ACTION_OPEN_SETTINGS, user=ADMIN, view=home)
    assert (await bot.send_interaction(press)).status_code == 200
    [_, from_home] = await bot.slack.wait_for("views.open", count=2)
    assert from_home.params["trigger_id"] == press["trigger_id"]
    modal = from_home.response["view"]
    assert modal["private_metadata"] == "C1"
    assert element(modal, INPUT_SYSTEM_PROMPT)["initial_value"] == "Be brief."


async def test_app_home_shows_someone_else_no_settings_and_their_button_opens_nothing(
    bot: BotUnderTest,
) -> None:
    view = await open_modal(bot)
    await submit(bot, view, {INPUT_SYSTEM_PROMPT: "Be brief."})
    await bot.send(app_home_opened(user="U2"))
    await bot.slack.wait_for("views.publish")
    home = bot.slack.home_views["U2"]
    assert buttons(home["blocks"]) == {}
    assert "No channels to configure here" in str(home["blocks"])

    # A Home tab published while U2 was still an admin keeps its button; pressing it opens nothing.
    stale = {"id": "VSTALE", **home_view(usage={}, feedback={}, editable_channels=[("C1", "C1")], model="m")}
    assert (
        await bot.send_interaction(block_actions(ACTION_OPEN_SETTINGS, user="U2", view=stale))
    ).status_code == 200
    await bot.idle()
    assert len(bot.slack.calls_to("views.open")) == 1  # only the admin's, above
