"""Per-channel settings from Slack: the modal (from /relaydance settings or App Home) and its submit."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.tasks import TaskTracker
from bot.errors import UpstreamError
from bot.llm.client import RelayDanceClient
from bot.settings import Settings
from bot.slack.access import Access
from bot.slack.identity import Identity
from bot.slack.views import (
    ACTION_OPEN_SETTINGS,
    BLOCK_SYSTEM_PROMPT,
    SETTINGS_MODAL,
    parse_settings_submission,
    settings_modal,
)
from bot.stores.cache import ValueCache
from bot.stores.channel_settings import ChannelConfig, ChannelSettings

log = logging.getLogger(__name__)
MODELS_TTL = 600


class SettingsModal:
    """Opens the modal: the channel's current settings, the defaults and RelayDance's models."""

    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        llm: RelayDanceClient,
        channels: ChannelSettings,
        cache: ValueCache,
        settings: Settings,
    ) -> None:
        self._slack = slack
        self._llm = llm
        self._channels = channels
        self._cache = cache
        self._settings = settings

    async def models(self) -> list[str]:
        """RelayDance's model list, cached in Redis for ten minutes (GET /models on a miss)."""
        cached = await self._cache.get("models")
        if cached:
            return list(json.loads(cached))
        try:
            found = await self._llm.list_models()
        except UpstreamError as exc:
            log.warning("could not list models: %s", type(exc).__name__)
            return [self._settings.relaydance_model]
        await self._cache.put("models", json.dumps(found), ttl=MODELS_TTL)
        return found

    async def open(self, *, trigger_id: str, team: str, channel: str) -> None:
        config = await self._channels.get(team, channel)
        name = channel
        try:
            info = (await self._slack.conversations_info(channel=channel)).get("channel") or {}
            name = str(info.get("name") or channel)
        except SlackApiError:
            pass
        s = self._settings
        view = settings_modal(
            channel_id=channel,
            channel_name=name,
            current=asdict(config),
            defaults={
                "system_prompt": s.system_prompt,
                "model": s.relaydance_model,
                "temperature": s.temperature,
                "followups": s.followups_without_mention,
                "knowledge": s.knowledge_threads > 0,
            },
            models=await self.models(),
        )
        await self._slack.views_open(trigger_id=trigger_id, view=view)


def register(
    app: AsyncApp,
    *,
    modal: SettingsModal,
    channels: ChannelSettings,
    access: Access,
    identity: Identity,
    tasks: TaskTracker,
) -> None:
    async def on_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        team = (body.get("team") or {}).get("id") or identity.team_id
        channel = str(view.get("private_metadata") or "")
        if not await access.may_change_settings(user):
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
        await channels.set(team, channel, config)
        await ack()
        log.info("channel settings of %s changed by %s", channel, user)

    async def on_open(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = body["user"]["id"]
        if not await access.may_change_settings(user):
            return
        team = (body.get("team") or {}).get("id") or identity.team_id
        await modal.open(trigger_id=body["trigger_id"], team=team, channel=str(action["value"]))

    app.view(SETTINGS_MODAL)(tasks.listener(on_submit))
    app.action(ACTION_OPEN_SETTINGS)(tasks.listener(on_open))
