"""HTTP mode: Slack's Events API endpoint and a health check on one aiohttp server."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.wiring.intake import Intake, Refused

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def build_web_app(
    bolt: AsyncApp, *, intake: Intake, healthy: Callable[[], Awaitable[bool]]
) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        try:
            body = intake.check(await request.read(), request.headers)
        except Refused as refused:
            log.warning("refused a request to %s: %s", EVENTS_PATH, refused.reason)
            return web.json_response({"ok": False, "error": refused.reason}, status=refused.status)
        # Bolt answers url_verification and acks before our listeners run.
        bolt_request = AsyncBoltRequest(
            body=body,
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]  # a multidict Bolt reads as a mapping
        )
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    async def healthz(_: web.Request) -> web.Response:
        if await healthy():
            return web.json_response({"ok": True})
        return web.json_response({"ok": False, "error": "redis_unavailable"}, status=503)

    web_app = web.Application(client_max_size=4 * 1024 * 1024)
    web_app.router.add_post(EVENTS_PATH, events)
    web_app.router.add_get("/healthz", healthz)
    return web_app
