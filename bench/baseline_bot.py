"""BENCH-ONLY naive reference bot, run beside the real one to show what its coalescing and overhead
cost or save. Never point it at a real workspace. It checks the signature and acks, then in a
background task posts a placeholder, streams from RelayDance with httpx and calls chat.update with
the whole text on EVERY chunk (awaited before reading on). No coalescing, history, Redis, dedup,
Markdown or splitting; only the last edit waits out a 429, so every answer ends complete. Slack is
called with aiohttp as slack_sdk does in the bot: httpx's pool costs ~2.5 ms CPU a request at 50
concurrent connections (aiohttp ~0.2), which would measure the HTTP client instead.

`BENCH_POLICY` picks when it edits, for the workspace comparison (`bench.workspace`): `every`
(the default: on every chunk), `chars:N` (once N characters are buffered, slack-sdk's
`chat_stream` rule, 256 there) or `timer:S` (at most every S seconds, from a task of its own, one
call in flight; the final edit waits out the timer like the others).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx
from aiohttp import web

PLACEHOLDER = "_Thinking…_"
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
FINAL_ATTEMPTS = 20


def verified(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}", headers.get("X-Slack-Signature", ""))


class NaiveBot:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.secret = env["SLACK_SIGNING_SECRET"]
        self.slack_url = env["SLACK_API_URL"].rstrip("/") + "/"
        self.slack_auth = {"Authorization": f"Bearer {env['SLACK_BOT_TOKEN']}"}
        self.llm_url = env["RELAYDANCE_BASE_URL"].rstrip("/") + "/chat/completions"
        self.llm_auth = {"Authorization": f"Bearer {env['RELAYDANCE_API_KEY']}"}
        self.model = env.get("RELAYDANCE_MODEL") or "grok-4.3"
        limits = httpx.Limits(max_connections=500)
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(15, read=None), limits=limits)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500))
        self.tasks: set[asyncio.Task[None]] = set()
        kind, _, value = (env.get("BENCH_POLICY") or "every").partition(":")
        self.policy, self.amount = kind, float(value or 0)

    async def events(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verified(self.secret, request.headers, body):
            return web.Response(status=401)
        event = json.loads(body).get("event") or {}
        if event.get("type") == "app_mention":
            thread = event.get("thread_ts") or event["ts"]
            task = asyncio.create_task(self.answer(event["channel"], thread, event.get("text", "")))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return web.Response()

    async def slack(self, method: str, **params: Any) -> tuple[dict[str, Any], float]:
        """Slack's answer and its Retry-After (1 s when absent)."""
        url, auth = self.slack_url + method, self.slack_auth
        async with self.session.post(url, json=params, headers=auth) as response:
            return await response.json(), float(response.headers.get("Retry-After", "1"))

    async def timed(self, channel: str, ts: str, state: dict[str, str]) -> tuple[str, float]:
        """The `timer` policy: edit at most every `amount` seconds while the text changes; returns
        what Slack shows and the last Retry-After once the stream is done and a last tick ran."""
        shown, retry_after = "", 1.0
        while True:
            await asyncio.sleep(self.amount)
            text, done = state["text"], state["done"]
            if text != shown:
                edited, retry_after = await self.slack("chat.update", channel=channel, ts=ts, text=text)
                shown = text if edited.get("ok") else shown
            if done:
                return shown, retry_after  # after a 429 the final loop in answer() waits it out

    async def answer(self, channel: str, thread_ts: str, question: str) -> None:
        where = {"channel": channel, "thread_ts": thread_ts}
        posted, _ = await self.slack("chat.postMessage", **where, text=PLACEHOLDER)
        ts, text, shown, retry_after = posted["ts"], "", "", 1.0
        state = {"text": "", "done": ""}
        timer = asyncio.create_task(self.timed(channel, ts, state)) if self.policy == "timer" else None
        messages = [SYSTEM, {"role": "user", "content": question}]
        chat = {"model": self.model, "stream": True, "messages": messages}
        async with self.http.stream("POST", self.llm_url, json=chat, headers=self.llm_auth) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                choices = json.loads(line[6:]).get("choices") or [{}]
                piece = (choices[0].get("delta") or {}).get("content")
                if piece:
                    text += piece
                    if self.policy == "timer":
                        state["text"] = text
                        continue
                    if self.policy == "chars" and len(text) - len(shown) < self.amount:
                        continue
                    edited, retry_after = await self.slack("chat.update", channel=channel, ts=ts, text=text)
                    shown = text if edited.get("ok") else shown
        if timer is not None:
            state["done"] = "yes"
            shown, retry_after = await timer
        limited = False  # the final edit goes at once, and waits out a 429 before each retry
        for _ in range(FINAL_ATTEMPTS if shown != text else 0):
            if limited:
                await asyncio.sleep(retry_after)
            edited, retry_after = await self.slack("chat.update", channel=channel, ts=ts, text=text)
            if edited.get("ok"):
                break
            limited = True


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def serve(env: Mapping[str, str]) -> None:
    bot = NaiveBot(env)
    app = web.Application()
    app.router.add_post("/slack/events", bot.events)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, env.get("HOST") or "127.0.0.1", int(env.get("PORT") or 3000)).start()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for task in list(bot.tasks):
            task.cancel()
        await runner.cleanup()
        await bot.http.aclose()
        await bot.session.close()


if __name__ == "__main__":
    asyncio.run(serve(os.environ))  # SIGINT and SIGTERM end it cleanly
