"""Per-channel settings from Slack: the modal (from /relaydance settings or App Home) and its submit."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.core.deps import Deps
from bot.errors import UpstreamError
from bot.slack.access import may_change_settings
from bot.slack.blocks import (
    ACTION_OPEN_SETTINGS,
    BLOCK_SYSTEM_PROMPT,
    SETTINGS_MODAL,
    parse_settings_submission,
    settings_modal,
)
from bot.stores.records import ChannelConfig

log = logging.getLogger(__name__)
MODELS_TTL = 600


async def models(deps: Deps) -> list[str]:
    """RelayDance's model list, cached in Redis for ten minutes (GET /models on a miss)."""
    key = deps.store.keys.models()
    cached = await deps.store.cached_value(key)
    if cached:
        return list(json.loads(cached))
    try:
        found = await deps.llm.list_models()
    except UpstreamError as exc:
        log.warning("could not list models: %s", type(exc).__name__)
        return [deps.settings.relaydance_model]
    await deps.store.cache_value(key, json.dumps(found), ttl=MODELS_TTL)
    return found


async def open_settings(deps: Deps, *, trigger_id: str, team: str, channel: str) -> None:
    config = await deps.records.channel_config(team, channel)
    name = channel
    try:
        info = (await deps.slack.conversations_info(channel=channel)).get("channel") or {}
        name = str(info.get("name") or channel)
    except SlackApiError:
        pass
    s = deps.settings
    view = settings_modal(
        channel_id=channel,
        channel_name=name,
        current=asdict(config),
        defaults={
            "system_prompt": s.system_prompt,
            "model": s.relaydance_model,
            "temperature": s.temperature,
            "followups": s.followups_without_mention,
        },
        models=await models(deps),
    )
    await deps.slack.views_open(trigger_id=trigger_id, view=view)


def register(app: AsyncApp, deps: Deps) -> None:
    async def on_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        team = (body.get("team") or {}).get("id") or deps.identity.team_id
        channel = str(view.get("private_metadata") or "")
        if not await may_change_settings(deps, user):
            await ack(
                response_action="errors",
                errors={BLOCK_SYSTEM_PROMPT: "You may not change these settings."},
            )
            return
        values, errors = parse_settings_submission(view["state"]["values"])
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        config = ChannelConfig(**values)  # type: ignore[arg-type]
        await deps.records.set_channel_config(team, channel, config)
        await ack()
        log.info("channel settings of %s changed by %s", channel, user)

    async def on_open(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = body["user"]["id"]
        if not await may_change_settings(deps, user):
            return
        team = (body.get("team") or {}).get("id") or deps.identity.team_id
        await open_settings(deps, trigger_id=body["trigger_id"], team=team, channel=str(action["value"]))

    app.view(SETTINGS_MODAL)(on_submit)
    app.action(ACTION_OPEN_SETTINGS)(on_open)
