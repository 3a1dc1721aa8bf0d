"""Short plain messages instead of an answer: why there is none (busy, an allowance used up, not
enabled here), in the thread or privately. A Slack refusal is logged, never raised: a notice is
the last thing an attempt does, and it must not turn into a crash."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

BUSY = "I'm too busy right now, try again in a minute."


class Notices:
    def __init__(self, slack: AsyncWebClient) -> None:
        self._slack = slack

    async def post(self, channel: str, thread_ts: str | None, text: str) -> None:
        try:
            await self._slack.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        except SlackApiError as exc:
            log.warning("could not post in %s: %s", channel, exc.response.get("error"))

    async def private(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        try:
            await self._slack.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread_ts, blocks=blocks
            )
        except SlackApiError as exc:
            log.warning("could not tell %s privately in %s: %s", user, channel, exc.response.get("error"))
