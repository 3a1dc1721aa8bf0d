"""HTTP mode: Slack's Events API endpoint and a health check on one aiohttp server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

EVENTS_PATH = "/slack/events"


def build_web_app(bolt: AsyncApp, *, healthy: Callable[[], Awaitable[bool]]) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        # Bolt verifies the signature, answers url_verification and acks before our listeners run.
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(_: web.Request) -> web.Response:
        if await healthy():
            return web.json_response({"ok": True})
        return web.json_response({"ok": False, "error": "redis_unavailable"}, status=503)

    web_app = web.Application(client_max_size=4 * 1024 * 1024)
    web_app.router.add_post(EVENTS_PATH, events)
    web_app.router.add_get("/healthz", healthz)
    return web_app
