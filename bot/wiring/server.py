"""The bot's HTTP servers: Slack's Events API endpoint (HTTP mode) and the health endpoints.

With OAuth installs the HTTP server also serves Bolt's install flow: `/slack/install` sends the
browser to Slack's authorize page (with a one-time `state`, also set as a cookie) and
`/slack/oauth_redirect` is where Slack sends it back with a code, exchanged for the workspace's
installation (`oauth.v2.access`) and stored in Redis.

`/healthz` answers 503 from the moment shutdown begins (so a load balancer or Docker stops sending
work at once) and while Redis does not answer; `/metrics` is Prometheus' text format. In HTTP mode
both sit beside `/slack/events` on PORT; Socket Mode has no public endpoint, so they are served
alone on HEALTH_PORT.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.wiring.intake import Intake, Refused
from bot.wiring.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"


class Health:
    """What the health endpoint reports; `draining` is set by the runtime when shutdown begins."""

    def __init__(self, redis_ok: Callable[[], Awaitable[bool]]) -> None:
        self._redis_ok = redis_ok
        self.draining = False

    async def problem(self) -> str | None:
        if self.draining:
            return "shutting_down"
        if not await self._redis_ok():
            return "redis_unavailable"
        return None


def _add_health_routes(web_app: web.Application, health: Health, metrics: Metrics) -> None:
    async def healthz(_: web.Request) -> web.Response:
        problem = await health.problem()
        if problem is None:
            return web.json_response({"ok": True})
        return web.json_response({"ok": False, "error": problem}, status=503)

    async def metrics_page(_: web.Request) -> web.Response:
        await metrics.refresh()
        response = web.Response(body=metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    web_app.router.add_get(HEALTH_PATH, healthz)
    web_app.router.add_get(METRICS_PATH, metrics_page)


def build_health_app(*, health: Health, metrics: Metrics) -> web.Application:
    web_app = web.Application()
    _add_health_routes(web_app, health, metrics)
    return web_app


def _bolt_request(request: web.Request, body: str = "") -> AsyncBoltRequest:
    return AsyncBoltRequest(
        body=body,
        query=request.query_string,
        headers=request.headers,  # type: ignore[arg-type]  # a multidict Bolt reads as a mapping
    )


def _add_oauth_routes(web_app: web.Application, oauth: AsyncOAuthFlow) -> None:
    async def install(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await oauth.handle_installation(_bolt_request(request)))

    async def oauth_redirect(request: web.Request) -> web.Response:
        # Bolt checks the state (signed, once, and the browser's cookie) before it uses the code.
        return await to_aiohttp_response(await oauth.handle_callback(_bolt_request(request)))

    web_app.router.add_get(INSTALL_PATH, install)
    web_app.router.add_get(REDIRECT_PATH, oauth_redirect)


def build_web_app(
    bolt: AsyncApp,
    *,
    intake: Intake,
    health: Health,
    metrics: Metrics,
    oauth: AsyncOAuthFlow | None = None,
) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        if health.draining:
            # Not acknowledged, so Slack delivers it again (to a replica that is not stopping).
            metrics.events.labels(reason="draining").inc()
            return web.json_response({"ok": False, "error": "shutting_down"}, status=503)
        try:
            body = intake.check(await request.read(), request.headers)
        except Refused as refused:
            log.warning("refused a request to %s: %s", EVENTS_PATH, refused.reason)
            metrics.events.labels(reason=f"http_{refused.status}").inc()
            return web.json_response({"ok": False, "error": refused.reason}, status=refused.status)
        # Bolt answers url_verification and acks before our listeners run.
        return await to_aiohttp_response(await bolt.async_dispatch(_bolt_request(request, body)))

    web_app = web.Application(client_max_size=4 * 1024 * 1024)
    web_app.router.add_post(EVENTS_PATH, events)
    _add_health_routes(web_app, health, metrics)
    if oauth is not None:
        _add_oauth_routes(web_app, oauth)
    return web_app
