"""The bot, running for real against loopback fakes: the harness the end-to-end tests share.

`BotUnderTest` starts `bot.wiring.runtime.running()` (the same wiring `python -m bot` uses) in HTTP mode
on a free port, with Slack's Web API, RelayDance and Redis all real servers on this machine.
Events go in as signed HTTP requests, exactly as Slack sends them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.settings import Secret, Settings
from bot.wiring.runtime import Running, running
from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.signing import event_callback, sign
from tests.fakes.slack import FakeSlack

SIGNING_SECRET = "test-signing-secret-42"
UNLIMITED = (100_000.0, 1.0, 100_000.0)  # a Slack budget (calls, per seconds, burst) that never waits


def make_settings(
    slack: FakeSlack, relay: FakeRelayDance, *, redis_url: str, prefix: str, **overrides: Any
) -> Settings:
    base = Settings(
        slack_bot_token=Secret(slack.bot_token),
        slack_signing_secret=Secret(SIGNING_SECRET),
        slack_api_url=slack.api_url,
        relaydance_api_key=Secret(relay.api_key),
        relaydance_base_url=relay.base_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        state_dir=Path("/nonexistent"),
        host="127.0.0.1",
        port=0,
        edit_interval=0.05,
        first_token_timeout=5,
        idle_timeout=5,
        # The fake Slack limits nothing unless a test asks it to; neither does the bot's budget.
        slack_rate_update=UNLIMITED,
        slack_rate_post=UNLIMITED,
        slack_rate_stream=UNLIMITED,
        slack_rate_append=UNLIMITED,
        # Post-and-edit unless a test asks for native streams (tests/handlers/test_native_streaming.py).
        slack_native_streaming="off",
    )
    return replace(base, **overrides)


@dataclass
class BotUnderTest:
    running: Running
    http: httpx.AsyncClient
    slack: FakeSlack
    relay: FakeRelayDance

    @property
    def url(self) -> str:
        assert self.running.url is not None
        return self.running.url

    async def send(
        self, event: dict[str, Any], *, secret: str = SIGNING_SECRET, **envelope: Any
    ) -> httpx.Response:
        """POST one event the way Slack does (signed `event_callback` JSON)."""
        return await self.send_body(event_callback(event, **envelope), secret=secret)

    async def send_body(
        self, body: dict[str, Any], *, secret: str = SIGNING_SECRET, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        raw = json.dumps(body)
        signed = {**sign(secret, raw), "Content-Type": "application/json", **(headers or {})}
        return await self.http.post(f"{self.url}/slack/events", content=raw, headers=signed)

    async def send_form(self, fields: dict[str, str], *, secret: str = SIGNING_SECRET) -> httpx.Response:
        """POST form fields the way Slack sends slash commands (`command`, `text`, …)."""
        raw = urlencode(fields)
        headers = {**sign(secret, raw), "Content-Type": "application/x-www-form-urlencoded"}
        return await self.http.post(f"{self.url}/slack/events", content=raw, headers=headers)

    async def send_interaction(
        self, payload: dict[str, Any], *, secret: str = SIGNING_SECRET
    ) -> httpx.Response:
        """POST an interactivity payload (shortcut, block action, view submission) as `payload=<json>`."""
        return await self.send_form({"payload": json.dumps(payload)}, secret=secret)

    async def command(
        self, command: str, text: str, *, user: str = "U1", channel: str = "C1"
    ) -> httpx.Response:
        """A slash command as Slack sends it (no thread_ts; a response_url and trigger_id)."""
        return await self.send_form(
            {
                "token": "legacy",
                "team_id": "T1",
                "team_domain": "fake",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": command,
                "text": text,
                "api_app_id": "A1",
                "is_enterprise_install": "false",
                "response_url": f"{self.slack.base_url}/response/{command.strip('/')}",
                "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            }
        )

    async def answered(self, count: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until `count` answers have finished since the bot started."""
        async with asyncio.timeout(timeout):
            await self.running.parts.tasks.wait_finished(count)

    async def idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has nothing left to do: every listener Bolt started for the events
        sent so far has returned, and every answer they started has finished. A test that checks
        "nothing else happened" asserts after this, not after a sleep."""
        async with asyncio.timeout(timeout):
            await self.running.parts.tasks.idle()


@asynccontextmanager
async def bot_under_test(
    slack: FakeSlack, relay: FakeRelayDance, settings: Settings
) -> AsyncIterator[BotUnderTest]:
    async with running(settings) as run, httpx.AsyncClient(timeout=10) as http:
        yield BotUnderTest(running=run, http=http, slack=slack, relay=relay)


@asynccontextmanager
async def replicas(
    slack: FakeSlack, relay: FakeRelayDance, settings: Settings, count: int = 2
) -> AsyncIterator[list[BotUnderTest]]:
    """`count` instances of the bot sharing one Redis (the same settings, so the same prefix), as
    replicas behind a load balancer are: Slack may deliver any event or button press to any one."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(bot_under_test(slack, relay, settings)) for _ in range(count)]
