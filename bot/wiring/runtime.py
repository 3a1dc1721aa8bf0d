"""Build the real clients from settings, run the bot in HTTP or Socket Mode, and shut down cleanly.

Used by `python -m bot`, by the end-to-end tests (settings pointing at loopback fakes, port 0) and
by the benchmark, so all three run the same wiring.

Shutdown, however `running()` is left: health turns 503 at once (`begin_shutdown`, called from the
signal handler), new work is refused (HTTP: 503, so Slack delivers it again elsewhere; Socket
Mode: the websocket is closed, so unacknowledged envelopes go to another connection), answers and
Bolt's listeners in flight get SHUTDOWN_GRACE seconds, and what is left is cancelled (an answer
then ends its message with a note that it was interrupted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import aiohttp
import httpx
from aiohttp import web
from aiohttp.helpers import get_env_proxy_for_url
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from bot.core.summaries import MAP_CONCURRENCY
from bot.errors import ConfigError
from bot.llm.client import RelayDanceClient
from bot.llm.pacing import ReadPacer
from bot.llm.transport import AiohttpTransport
from bot.settings import Settings
from bot.slack.identity import BotIdentity, scopes_of
from bot.slack.teams import TeamClient
from bot.stores.guard import connect
from bot.stores.search_engine import choose as search_engine_choice
from bot.wiring.app import Parts, create_app
from bot.wiring.embedded_redis import EmbeddedRedis
from bot.wiring.intake import Intake
from bot.wiring.metrics import Metrics
from bot.wiring.server import Health, build_health_app, build_web_app

log = logging.getLogger(__name__)


SOCKET_CONNECT_SECONDS = 30.0


@dataclass(slots=True)
class Running:
    app: AsyncApp
    parts: Parts
    url: str | None  # HTTP mode: where Slack should send events
    health: Health
    metrics: Metrics
    health_url: str | None = None  # the separate health listener (HEALTH_PORT), when there is one

    def begin_shutdown(self) -> None:
        """Turn health to 503 and refuse new events from now on (the drain follows on exit)."""
        if not self.health.draining:
            log.info("shutting down: no new work accepted; answers in flight may finish")
        self.health.draining = True


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
        scopes=scopes_of(response.headers),
    )


async def check_app_token(slack: AsyncWebClient, app_token: str) -> None:
    """Ask for a Socket Mode URL once ourselves: slack-sdk retries a refused app token forever,
    logging a traceback each time, where a wrong token should stop start-up with its name."""
    try:
        await slack.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error != "ratelimited":
            raise ConfigError("SLACK_APP_TOKEN", f"was refused by Slack ({error})") from None
    except aiohttp.ClientError as exc:
        raise ConfigError("SLACK_API_URL", f"could not be reached ({type(exc).__name__})") from None


def upstream_connections(settings: Settings) -> int:
    """RelayDance connections at most: one per answer admitted to run, and a summary reads up to
    MAP_CONCURRENCY parts at once. (A fixed 500 made the 501st of 1,000 answers wait for a pooled
    connection until RELAYDANCE_CONNECT_TIMEOUT and try again.)"""
    return settings.max_concurrent_answers * MAP_CONCURRENCY


async def _serve(runner: web.AppRunner, host: str, port: int) -> str:
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    shown = "127.0.0.1" if bound_host in ("0.0.0.0", "::") else bound_host  # noqa: S104
    return f"http://{shown}:{bound_port}"


def relay_proxy(base_url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The proxy the environment names for RelayDance (HTTPS_PROXY, NO_PROXY, …), looked up once
    at start-up: with `trust_env` aiohttp looked it up again, and read ~/.netrc, in a worker
    thread for every request (its netrc credentials could never apply: the request carries its
    own Authorization header, which aiohttp refuses to combine with them)."""
    with contextlib.suppress(LookupError):
        return get_env_proxy_for_url(URL(base_url))
    return None, None


@asynccontextmanager
async def running(settings: Settings, *, metrics: Metrics | None = None) -> AsyncIterator[Running]:
    metrics = metrics or Metrics()
    async with AsyncExitStack() as stack:
        redis_url = settings.redis_url
        if redis_url is None:
            embedded = EmbeddedRedis(settings.state_dir / "redis")
            redis_url = await embedded.start()
            stack.push_async_callback(embedded.stop)
        redis = connect(
            redis_url, timeout=settings.redis_timeout, max_connections=settings.redis_max_connections
        )
        stack.push_async_callback(redis.aclose)

        session = aiohttp.ClientSession(trace_configs=[metrics.slack_trace()])
        stack.push_async_callback(session.close)
        # One client for every call; with OAuth installs its token is the workspace's being served.
        own_token = settings.slack_bot_token
        slack = TeamClient(
            token=None if own_token is None else own_token.reveal(),
            base_url=settings.slack_api_url,
            session=session,
            timeout=15,
        )
        # RelayDance's streams go through aiohttp under httpx's API (see bot.llm.transport).
        proxy, proxy_auth = relay_proxy(settings.relaydance_base_url)
        relay_session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=upstream_connections(settings), keepalive_timeout=30),
            proxy=proxy,
            proxy_auth=proxy_auth,
        )
        stack.push_async_callback(relay_session.close)
        http = httpx.AsyncClient(
            transport=AiohttpTransport(relay_session, pacer=ReadPacer()),
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
            thinking_timeout=settings.thinking_timeout,
        )
        # Shared text files are read through their own client (see bot.slack.files).
        downloads = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        stack.push_async_callback(downloads.aclose)
        identity = None if own_token is None else await resolve_identity(slack)
        search_engine = await search_engine_choice(redis, settings.knowledge_index)
        app, parts = create_app(
            settings,
            slack=slack,
            redis=redis,
            llm=llm,
            identity=identity,
            metrics=metrics,
            downloads=downloads,
            search_engine=search_engine,
        )
        if not await parts.stores.ping():
            log.warning("Redis at the configured REDIS_URL is not answering yet; continuing without it")
        else:
            await parts.stores.guard.run(parts.stores.index.prepare, None, what="index creation")
        health = Health(parts.stores.ping)
        stack.push_async_callback(parts.backfill.aclose)  # cursors are saved: a restart resumes
        if parts.workspaces is None:
            # One workspace: its token answers. With OAuth installs a job goes on at its next join.
            await parts.backfill.resume()

        url: str | None = None
        health_url: str | None = None
        handler: AsyncSocketModeHandler | None = None
        if settings.slack_app_token is None:
            web_app = build_web_app(
                app,
                intake=Intake(settings.slack_signing_secret.reveal()),
                health=health,
                metrics=metrics,
                oauth=parts.oauth,
            )
            runner = web.AppRunner(web_app, access_log=None)
            stack.push_async_callback(runner.cleanup)
            url = await _serve(runner, settings.host, settings.port)
            log.info("listening for Slack events on %s/slack/events (HTTP mode)", url)
            if parts.oauth is not None:
                log.info("OAuth installs: workspaces install the app at %s/slack/install", url)
        # Its own listener unless it would be PORT itself (0 is a new free port each time).
        shared_port = settings.health_port == settings.port != 0 and not settings.socket_mode
        if settings.health_port is not None and not shared_port:
            health_runner = web.AppRunner(build_health_app(health=health, metrics=metrics), access_log=None)
            stack.push_async_callback(health_runner.cleanup)
            health_url = await _serve(health_runner, settings.host, settings.health_port)
            log.info("health and metrics on %s/healthz and %s/metrics", health_url, health_url)
        if settings.slack_app_token is not None:
            app_token = settings.slack_app_token.reveal()
            await check_app_token(slack, app_token)
            handler = AsyncSocketModeHandler(app, app_token, web_client=slack)
            stack.push_async_callback(handler.close_async)
            try:
                async with asyncio.timeout(SOCKET_CONNECT_SECONDS):
                    await handler.connect_async()  # type: ignore[no-untyped-call]  # Bolt leaves it untyped
            except TimeoutError:
                raise ConfigError(
                    "SLACK_APP_TOKEN",
                    f"was accepted, but no Socket Mode connection opened within {SOCKET_CONNECT_SECONDS:g} s "
                    "(check that the network allows websockets to Slack)",
                ) from None
            log.info("connected to Slack in Socket Mode as %s", identity.user_id if identity else "?")

        bot = Running(app=app, parts=parts, url=url, health=health, metrics=metrics, health_url=health_url)

        async def shutdown() -> None:
            bot.begin_shutdown()
            if handler is not None:
                await handler.close_async()  # type: ignore[no-untyped-call]  # read no more envelopes
            await parts.tasks.drain(settings.shutdown_grace)
            await parts.stops.close()

        stack.push_async_callback(shutdown)
        yield bot
