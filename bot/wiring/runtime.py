"""Build the real clients from settings, run the bot in HTTP or Socket Mode, and shut down cleanly.

Used by `python -m bot`, by the end-to-end tests (settings pointing at loopback fakes, port 0) and
by the benchmark, so all three run the same wiring.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import aiohttp
import httpx
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ConfigError
from bot.llm.client import RelayDanceClient
from bot.settings import Settings
from bot.slack.identity import BotIdentity
from bot.stores.guard import connect
from bot.wiring.app import Parts, create_app
from bot.wiring.embedded_redis import EmbeddedRedis
from bot.wiring.intake import Intake
from bot.wiring.server import build_web_app

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Running:
    app: AsyncApp
    parts: Parts
    url: str | None  # HTTP mode: where Slack should send events


async def resolve_identity(slack: AsyncWebClient) -> BotIdentity:
    """Who the bot is, from `auth.test`; a refused token stops start-up naming the setting."""
    try:
        response = await slack.auth_test()
    except SlackApiError as exc:
        raise ConfigError("SLACK_BOT_TOKEN", f"was refused by Slack ({exc.response.get('error')})") from None
    except aiohttp.ClientError as exc:
        raise ConfigError("SLACK_API_URL", f"could not be reached ({type(exc).__name__})") from None
    return BotIdentity(
        team_id=str(response.get("team_id") or ""),
        user_id=str(response.get("user_id") or ""),
        bot_id=response.get("bot_id"),
        url=str(response.get("url") or ""),
    )


@asynccontextmanager
async def running(settings: Settings, *, drain_timeout: float = 30.0) -> AsyncIterator[Running]:
    async with AsyncExitStack() as stack:
        redis_url = settings.redis_url
        if redis_url is None:
            embedded = EmbeddedRedis(settings.state_dir / "redis")
            redis_url = await embedded.start()
            stack.push_async_callback(embedded.stop)
        redis = connect(redis_url, timeout=settings.redis_timeout)
        stack.push_async_callback(redis.aclose)

        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)
        slack = AsyncWebClient(
            token=settings.slack_bot_token.reveal(),
            base_url=settings.slack_api_url,
            session=session,
            timeout=15,
        )
        http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=500, max_keepalive_connections=100),
            timeout=httpx.Timeout(settings.connect_timeout, read=None),
        )
        stack.push_async_callback(http.aclose)
        llm = RelayDanceClient(
            http=http,
            base_url=settings.relaydance_base_url,
            api_key=settings.relaydance_api_key.reveal(),
            connect_timeout=settings.connect_timeout,
            first_token_timeout=settings.first_token_timeout,
            idle_timeout=settings.idle_timeout,
        )
        identity = await resolve_identity(slack)
        app, parts = create_app(settings, slack=slack, redis=redis, llm=llm, identity=identity)
        if not await parts.stores.ping():
            log.warning("Redis at the configured REDIS_URL is not answering yet; continuing without it")
        stack.push_async_callback(parts.tasks.drain, drain_timeout)

        url: str | None = None
        if settings.slack_app_token is not None:
            handler = AsyncSocketModeHandler(app, settings.slack_app_token.reveal(), web_client=slack)
            await handler.connect_async()  # type: ignore[no-untyped-call]  # Bolt leaves it untyped
            stack.push_async_callback(handler.close_async)
            log.info("connected to Slack in Socket Mode as %s", identity.user_id)
        else:
            runner = web.AppRunner(
                build_web_app(
                    app, intake=Intake(settings.slack_signing_secret.reveal()), healthy=parts.stores.ping
                ),
                access_log=None,
            )
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, settings.host, settings.port)
            await site.start()
            host, port = runner.addresses[0][:2]
            url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
            log.info("listening for Slack events on %s/slack/events (HTTP mode)", url)
        yield Running(app=app, parts=parts, url=url)
