"""A loopback Slack for end-to-end tests and benchmarks: Web API over HTTP, Socket Mode over a websocket.

`FakeSlack` is a real aiohttp server on 127.0.0.1 (any free port). Point slack_sdk at it with
`AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)`; Socket Mode clients get their
websocket URL from its `apps.connections.open`, exactly as with Slack.

It follows Slack's Web API protocol as slack_sdk uses it:

- `GET` or `POST /api/<method>`; arguments as query parameters, a form body or a JSON body
  (chat.postMessage / chat.update send JSON; conversations.* and users.info are GETs).
- The token comes from `Authorization: Bearer …`, or a `token` query/form parameter (never from a
  JSON body). None → `not_authed`; unknown → `invalid_auth`; the app token (`xapp-…`) works only
  for `apps.connections.open` and the bot token everywhere else (`not_allowed_token_type`).
- Slack errors are HTTP 200 with `{"ok": false, "error": …}`; rate limits are HTTP 429 with
  `Retry-After: <seconds>` and `{"ok": false, "error": "ratelimited"}`.

Every call is recorded as a `Call`; `wait_for()` awaits calls without polling. Faults are injected
with `fail_next()` and `rate_limit()`, and `latency` delays every answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

from tests.fakes.signing import new_ts, ts_to_micros

__all__ = ["Call", "FakeSlack"]

T = TypeVar("T")
Params = dict[str, Any]
Handler = Callable[[Params], Params]

POST_TEXT_LIMIT = 40_000  # chat.postMessage truncates longer text
UPDATE_TEXT_LIMIT = 4_000  # chat.update answers msg_too_long above this
MAX_BLOCKS = 50
BLOCK_TEXT_LIMITS = {"section": 3_000, "header": 150, "markdown": 12_000}
REPLIES_MAX_LIMIT = 1_000
HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT = 100, 999
PERMALINK_BASE = "https://fake.slack.com/archives"
BOT_TOKEN = "xoxb-1-fake-bot-token"
# What the app was granted when installed; Slack lists it in every answer's `x-oauth-scopes` header.
GRANTED_SCOPES = (
    "app_mentions:read,assistant:write,channels:history,channels:read,groups:history,groups:read,"
    "im:history,im:read,mpim:history,mpim:read,chat:write,commands,users:read"
)
APP_TOKEN = "xapp-1-A1-fake-app-token"


@dataclass
class Call:
    """One Web API request as the fake received it, and (once answered) how it answered."""

    method: str
    params: Params
    headers: dict[str, str]
    received_at: float  # time.monotonic()
    http_verb: str
    content_type: str
    status: int | None = None  # HTTP status of the answer; None while still being handled
    response: Params = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return error if isinstance(error, str) else None


class _SlackError(Exception):
    """Raised by a method handler; answered as HTTP 200 `{"ok": false, "error": …, **extra}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass(frozen=True)
class _Fault:
    error: str
    status: int
    retry_after: int | None


@dataclass
class _Budget:
    """A sliding-window allowance: at most `calls` granted calls in any `per_seconds`."""

    calls: int
    per_seconds: float
    retry_after: int | None
    granted: deque[float] = field(default_factory=deque)

    def take(self, now: float) -> int | None:
        """Count a call and return None, or return the Retry-After seconds if the budget is spent."""
        while self.granted and now - self.granted[0] >= self.per_seconds:
            self.granted.popleft()
        if len(self.granted) < self.calls:
            self.granted.append(now)
            return None
        if self.retry_after is not None:
            return self.retry_after
        return max(1, math.ceil(self.granted[0] + self.per_seconds - now))


class FakeSlack:
    """A Slack workspace with one bot, served on a loopback port. See the module docstring."""

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T1",
        app_id: str = "A1",
        team_name: str = "Fake Workspace",
        bot_name: str = "relaybot",
        latency: float = 0.0,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.app_id = app_id
        self.team_name = team_name
        self.bot_name = bot_name
        self.latency = latency
        """Seconds slept before answering each Web API call."""
        self.scopes = GRANTED_SCOPES
        """The bot token's scopes, comma-separated, as the `x-oauth-scopes` response header shows them."""

        self.calls: list[Call] = []
        self.messages: dict[str, dict[str, Params]] = {}
        """Stored messages: channel → ts → message (as stored; the helpers add thread fields)."""
        self.channels: dict[str, Params] = {}
        self.members: dict[str, list[str] | None] = {}
        """Human members of each channel for conversations.members (None: every human user)."""
        self.users: dict[str, Params] = {}
        self.ephemeral: list[Params] = []
        self.responses: list[Params] = []  # what was POSTed to response_url endpoints
        self.home_views: dict[str, Params] = {}
        self.opened_views: list[Params] = []
        """Modals opened with views.open, in order (as views.open answered them)."""
        self.acks: dict[str, Params] = {}
        """Socket Mode acknowledgements received: envelope_id → what the client sent."""
        self.socket_messages: list[Params] = []
        self.connections = 0
        """How many Socket Mode websockets have been opened so far."""

        self._faults: dict[str, deque[_Fault]] = {}
        self._budgets: dict[str, _Budget] = {}
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._latest_ts: str | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
            "apps.connections.open": self._apps_connections_open,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "assistant.threads.setStatus": self._assistant_thread_call("status"),
            "assistant.threads.setSuggestedPrompts": self._assistant_thread_call("prompts"),
            "assistant.threads.setTitle": self._assistant_thread_call("title"),
        }
        self.add_user(bot_user_id, bot_name, bot_name, is_bot=True)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Self:
        """Bind 127.0.0.1 on a free port and start serving."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self._link)
        app.router.add_post("/response/{name}", self._response_url)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Close open websockets and stop serving."""
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """Web API base URL, for `AsyncWebClient(base_url=...)`."""
        return f"{self.base_url}/api/"

    # -- seeding and inspection ------------------------------------------------------------

    def add_user(
        self,
        id: str,
        display_name: str,
        real_name: str | None = None,
        *,
        name: str | None = None,
        is_bot: bool = False,
        is_admin: bool = False,
        tz: str = "Europe/London",
    ) -> Params:
        """Add a workspace member that users.info will describe (`is_admin`: a workspace admin)."""
        real_name = real_name if real_name is not None else display_name
        user: Params = {
            "id": id,
            "team_id": self.team_id,
            "name": name or display_name.lower().replace(" ", "."),
            "deleted": False,
            "real_name": real_name,
            "tz": tz,
            "is_admin": is_admin,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
            "profile": {
                "display_name": display_name,
                "display_name_normalized": display_name,
                "real_name": real_name,
                "real_name_normalized": real_name,
                "team": self.team_id,
            },
        }
        if is_bot and id == self.bot_user_id:
            user["profile"]["bot_id"] = self.bot_id
            user["profile"]["api_app_id"] = self.app_id
        self.users[id] = user
        return user

    def add_channel(
        self,
        id: str,
        *,
        name: str | None = None,
        is_private: bool = False,
        user: str | None = None,
        bot_member: bool = True,
        members: list[str] | None = None,
    ) -> Params:
        """Describe a conversation for conversations.info: `D…` is a DM (with `user`), `G…` private.

        `bot_member=False`: the bot is not in the channel, so conversations.info says
        `is_member: false` (`channel_not_found` for a private one, which the bot cannot see) and
        reading its messages answers `not_in_channel`. `members`: the people in it, for
        conversations.members (default: every human user of the workspace).
        """
        created = 1_700_000_000
        if id.startswith("D"):
            info: Params = {
                "id": id,
                "created": created,
                "is_im": True,
                "is_org_shared": False,
                "user": user or "U1",
                "is_user_deleted": False,
                "priority": 0,
                "context_team_id": self.team_id,
            }
        else:
            private = is_private or id.startswith("G")
            channel_name = name or id.lower()
            info = {
                "id": id,
                "name": channel_name,
                "name_normalized": channel_name,
                "is_channel": not private,
                "is_group": private,
                "is_im": False,
                "is_mpim": False,
                "is_private": private,
                "created": created,
                "is_archived": False,
                "is_general": False,
                "is_member": bot_member,
                "is_shared": False,
                "is_ext_shared": False,
                "is_org_shared": False,
                "creator": "U1",
                "context_team_id": self.team_id,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
            }
        self.channels[id] = info
        self.members[id] = [user or "U1"] if id.startswith("D") else members
        self.messages.setdefault(id, {})
        return info

    def seed_message(
        self,
        channel: str,
        text: str,
        user: str,
        thread_ts: str | None = None,
        ts: str | None = None,
        bot_id: str | None = None,
        *,
        blocks: list[Params] | None = None,
    ) -> str:
        """Store a message as if someone had posted it earlier; returns its ts."""
        message: Params = {"type": "message", "user": user, "text": text}
        if bot_id is not None:
            message["bot_id"] = bot_id
        if blocks is not None:
            message["blocks"] = blocks
        return self._store(channel, message, thread_ts=thread_ts, ts=ts)

    def message(self, channel: str, ts: str) -> Params:
        """The message as it is now (text after every edit), with Slack's thread fields."""
        try:
            return self._render(channel, self.messages[channel][ts])
        except KeyError:
            raise KeyError(f"no message {ts} in {channel}") from None

    def thread_messages(self, channel: str, thread_ts: str) -> list[Params]:
        """The root (if stored) and replies of a thread, oldest first."""
        store = self.messages.get(channel, {})
        root = [store[thread_ts]] if thread_ts in store else []
        return [self._render(channel, m) for m in root + self._replies(channel, thread_ts)]

    def channel_messages(self, channel: str) -> list[Params]:
        """Messages shown in the channel itself (roots and broadcasts), oldest first."""
        return [self._render(channel, m) for m in self._top_level(channel)]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # The waits take a bounded default `timeout` (ASYNC109): a missing call fails a test, never hangs it.
    async def wait_for(
        self,
        match: str | Callable[[Call], bool],
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until `count` answered calls match (a method name or a predicate); return them all."""
        predicate = (lambda c: c.method == match) if isinstance(match, str) else match

        def found() -> list[Call] | None:
            hits = [c for c in self.calls if c.status is not None and predicate(c)]
            return hits if len(hits) >= count else None

        return await self._wait_until(found, timeout, f"{count} call(s) matching {match!r}")

    # -- fault injection -----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail.

        Defaults to a rate limit (429, `Retry-After: 1`, `ratelimited`). Another `error` alone is
        answered like Slack answers errors, HTTP 200 with `ok: false`; `status=500` gives a
        server error with `internal_error`.
        """
        if status is None:
            status = 429 if error in (None, "ratelimited") else 200
        if error is None:
            error = "ratelimited" if status in (200, 429) else "internal_error"
        if status == 429 and retry_after is None:
            retry_after = 1
        queue = self._faults.setdefault(method, deque())
        queue.extend(_Fault(error, status, retry_after) for _ in range(times))

    def rate_limit(self, method: str, calls: int, per_seconds: float, retry_after: int | None = None) -> None:
        """Answer 429 once `method` has been granted `calls` calls within the last `per_seconds`.

        Retry-After defaults to the whole seconds until the window frees a slot.
        """
        self._budgets[method] = _Budget(calls, per_seconds, retry_after)

    # -- Socket Mode ---------------------------------------------------------------------------

    async def wait_connected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until a Socket Mode client is connected and has been sent `hello`."""
        await self._wait_until(lambda: True if self._sockets else None, timeout, "a Socket Mode connection")

    async def send_envelope(
        self,
        type_: str,
        payload: Params,
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Deliver an envelope (`events_api`, `slash_commands`, `interactive`); returns its envelope_id."""
        ws = self._socket()
        envelope_id = str(uuid.uuid4())
        envelope: Params = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type_,
            "accepts_response_payload": accepts_response_payload,
        }
        if type_ == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        await ws.send_json(envelope)
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Params:  # noqa: ASYNC109
        """Wait for the client's acknowledgement of an envelope (`{"envelope_id", "payload"?}`)."""
        return await self._wait_until(lambda: self.acks.get(envelope_id), timeout, f"ack of {envelope_id}")

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does every few hours."""
        await self._socket().send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-applink-1"}}
        )

    # -- HTTP plumbing ----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        query: Params = dict(request.query)
        form: Params = {}
        body: Params = {}
        parse_error: str | None = None
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    loaded = json.loads(await request.text())
                except ValueError:
                    parse_error = "invalid_json"
                else:
                    if isinstance(loaded, dict):
                        body = loaded
                    else:
                        parse_error = "json_not_object"
            elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                posted = await request.post()
                form = {k: v for k, v in posted.items() if isinstance(v, str)}
        # Slack reads a token from the header, a query parameter or a form field; not from JSON.
        token_param = form.pop("token", None) or query.pop("token", None)
        token = _bearer(request.headers.get("Authorization")) or token_param
        params = {**query, **form, **body}

        call = Call(
            method=method,
            params=params,
            headers=dict(request.headers),
            received_at=time.monotonic(),
            http_verb=request.method,
            content_type=request.content_type,
        )
        self.calls.append(call)
        if self.latency > 0:
            await asyncio.sleep(self.latency)

        headers: dict[str, str] = {}
        status, answer = 500, {"ok": False, "error": "fake_slack_crashed"}  # kept if _answer raises
        try:
            if parse_error is not None:
                status, answer = 200, {"ok": False, "error": parse_error}
            else:
                status, answer, retry_after = self._answer(method, token, params)
                if retry_after is not None:
                    headers["Retry-After"] = str(retry_after)
                if token == self.bot_token:
                    headers["x-oauth-scopes"] = self.scopes
        finally:
            call.status, call.response = status, answer
            await self._notify()
        return web.json_response(answer, status=status, headers=headers)

    def _answer(self, method: str, token: str | None, params: Params) -> tuple[int, Params, int | None]:
        """(HTTP status, body, Retry-After) for one call, applying auth, faults and rate limits."""
        handler = self._handlers.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, None
        auth_error = self._auth_error(method, token)
        if auth_error is not None:
            return 200, {"ok": False, "error": auth_error}, None
        faults = self._faults.get(method)
        if faults:
            fault = faults.popleft()
            return fault.status, {"ok": False, "error": fault.error}, fault.retry_after
        budget = self._budgets.get(method)
        if budget is not None:
            wait = budget.take(time.monotonic())
            if wait is not None:
                return 429, {"ok": False, "error": "ratelimited"}, wait
        try:
            return 200, {"ok": True, **handler(params)}, None
        except _SlackError as e:
            return 200, {"ok": False, "error": e.error, **e.extra}, None

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        if token not in (self.bot_token, self.app_token):
            return "invalid_auth"
        wants_app_token = method == "apps.connections.open"
        if wants_app_token != (token == self.app_token):
            return "not_allowed_token_type"
        return None

    async def _response_url(self, request: web.Request) -> web.Response:
        """A `response_url` (slash commands, shortcuts): Slack answers a plain `ok`."""
        self.responses.append({"name": request.match_info["name"], **(await request.json())})
        await self._notify()
        return web.Response(text="ok")

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(timeout=1.0)  # autoping answers slack_sdk's pings
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {
                    "host": "fake-applink-1",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._sockets.append(ws)
        self.connections += 1
        await self._notify()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    data = {"unparsed": msg.data}
                self.socket_messages.append(data)
                if isinstance(data, dict) and "envelope_id" in data:
                    self.acks[data["envelope_id"]] = data
                await self._notify()
        finally:
            self._sockets.remove(ws)
            await self._notify()
        return ws

    def _socket(self) -> web.WebSocketResponse:
        open_sockets = [ws for ws in self._sockets if not ws.closed]
        if not open_sockets:
            raise RuntimeError("no Socket Mode client is connected")
        return open_sockets[-1]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait_until(self, check: Callable[[], T | None], seconds: float, what: str) -> T:
        try:
            async with asyncio.timeout(seconds), self._changed:
                while (result := check()) is None:
                    await self._changed.wait()
                return result
        except TimeoutError:
            seen = ", ".join(f"{c.method}→{c.status}" for c in self.calls[-20:]) or "none"
            raise TimeoutError(f"timed out after {seconds}s waiting for {what}; last calls: {seen}") from None

    # -- message store ---------------------------------------------------------------------------

    def _store(self, channel: str, message: Params, *, thread_ts: str | None, ts: str | None = None) -> str:
        if channel not in self.channels:
            self.add_channel(channel)
        store = self.messages[channel]
        ts = ts or new_ts(after=self._latest_ts)
        if self._latest_ts is None or ts_to_micros(ts) > ts_to_micros(self._latest_ts):
            self._latest_ts = ts
        message = {**message, "ts": ts, "team": self.team_id}
        if thread_ts is not None and thread_ts != ts:
            # A reply to a reply lands in the same thread, under the thread's root.
            root = store.get(thread_ts)
            thread_ts = root.get("thread_ts", thread_ts) if root else thread_ts
            message["thread_ts"] = thread_ts
            parent = store.get(thread_ts)
            message["parent_user_id"] = parent.get("user") if parent else message.get("user")
        store[ts] = message
        return ts

    def _replies(self, channel: str, root_ts: str) -> list[Params]:
        store = self.messages.get(channel, {})
        replies = [m for m in store.values() if m.get("thread_ts") == root_ts and m["ts"] != root_ts]
        return sorted(replies, key=lambda m: ts_to_micros(m["ts"]))

    def _top_level(self, channel: str) -> list[Params]:
        store = self.messages.get(channel, {})
        shown = [
            m
            for m in store.values()
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]
        return sorted(shown, key=lambda m: ts_to_micros(m["ts"]))

    def _render(self, channel: str, message: Params) -> Params:
        """A copy of a stored message with the thread summary Slack adds to a thread root."""
        out = copy.deepcopy(message)
        if "parent_user_id" not in message:
            replies = self._replies(channel, message["ts"])
            if replies:
                users = list(dict.fromkeys(r.get("user", "") for r in replies))
                out.update(
                    thread_ts=message["ts"],
                    reply_count=len(replies),
                    reply_users_count=len(users),
                    reply_users=users,
                    latest_reply=replies[-1]["ts"],
                    is_locked=False,
                    subscribed=False,
                )
        return out

    def _find(self, channel: str, ts: str) -> Params:
        if channel not in self.channels:
            raise _SlackError("channel_not_found")
        message = self.messages[channel].get(ts)
        if message is None:
            raise _SlackError("message_not_found")
        return message

    def _is_ours(self, message: Params) -> bool:
        return message.get("bot_id") == self.bot_id or message.get("user") == self.bot_user_id

    def _bot_fields(self) -> Params:
        return {
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.bot_name,
                "icons": {},
                "deleted": False,
                "updated": 1_700_000_000,
                "team_id": self.team_id,
            },
        }

    # -- Web API methods ---------------------------------------------------------------------------

    def _auth_test(self, params: Params) -> Params:
        return {
            "url": "https://fake.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: Params) -> Params:
        channel = _required(params, "channel", "channel_not_found")
        content = _message_content(params)
        if "text" in content:
            content["text"] = content["text"][:POST_TEXT_LIMIT]
        if "metadata" in params:
            content["metadata"] = _json_value(params["metadata"], "invalid_metadata_format")
        thread_ts = _optional(params, "thread_ts")
        if thread_ts and _flag(params, "reply_broadcast"):
            content["subtype"] = "thread_broadcast"
        message = {"type": "message", **content, **self._bot_fields()}
        ts = self._store(channel, message, thread_ts=thread_ts)
        return {"channel": channel, "ts": ts, "message": self._render(channel, self.messages[channel][ts])}

    def _chat_update(self, params: Params) -> Params:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "message_not_found")
        message = self._find(channel, ts)
        if not self._is_ours(message):
            raise _SlackError("cant_update_message")
        content = _message_content(params)
        if len(content.get("text", "")) > UPDATE_TEXT_LIMIT:
            raise _SlackError("msg_too_long")
        message.update(content)  # blocks/attachments not sent are kept, as on Slack
        message["edited"] = {"user": self.bot_user_id, "ts": new_ts(after=self._latest_ts)}
        rendered = self._render(channel, message)
        return {"channel": channel, "ts": ts, "text": message.get("text", ""), "message": rendered}

    def _chat_delete(self, params: Params) -> Params:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "message_not_found")
        message = self._find(channel, ts)
        if not self._is_ours(message):
            raise _SlackError("cant_delete_message")
        store = self.messages[channel]
        if "parent_user_id" not in message and self._replies(channel, ts):
            # A thread root with replies leaves a tombstone behind.
            store[ts] = {
                "type": "message",
                "subtype": "tombstone",
                "user": "USLACKBOT",
                "text": "This message was deleted.",
                "hidden": True,
                "ts": ts,
                "thread_ts": ts,
                "team": self.team_id,
            }
        else:
            del store[ts]
        return {"channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, params: Params) -> Params:
        channel = _required(params, "channel", "channel_not_found")
        user = _required(params, "user", "user_not_found")
        content = _message_content(params)
        ts = new_ts(after=self._latest_ts)
        thread_ts = _optional(params, "thread_ts")
        self.ephemeral.append({"channel": channel, "user": user, "ts": ts, "thread_ts": thread_ts, **content})
        return {"message_ts": ts}

    def _chat_get_permalink(self, params: Params) -> Params:
        channel = _required(params, "channel", "channel_not_found")
        message = self._find(channel, _required(params, "message_ts", "message_not_found"))
        link = f"{PERMALINK_BASE}/{channel}/p{message['ts'].replace('.', '')}"
        if "parent_user_id" in message:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _conversations_replies(self, params: Params) -> Params:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "thread_not_found")
        self._readable(channel)
        message = self.messages[channel].get(ts)
        if message is None:
            raise _SlackError("thread_not_found")
        if "parent_user_id" in message:
            # Slack answers a reply's ts with just that reply (slackapi/bolt-python#783).
            thread = [message]
        else:
            replies = _in_window(self._replies(channel, ts), params)
            thread = [message, *replies]  # the root comes first whatever oldest/latest say
        limit = _limit(params, default=REPLIES_MAX_LIMIT, maximum=REPLIES_MAX_LIMIT)
        start = _cursor_index(thread, params, newest_first=False)
        page, rest = thread[start : start + limit], thread[start + limit :]
        return {
            "messages": [self._render(channel, m) for m in page],
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": _cursor(rest[0]) if rest else ""},
        }

    def _conversations_history(self, params: Params) -> Params:
        channel = _required(params, "channel", "channel_not_found")
        self._readable(channel)
        shown = list(reversed(_in_window(self._top_level(channel), params)))
        limit = _limit(params, default=HISTORY_DEFAULT_LIMIT, maximum=HISTORY_MAX_LIMIT)
        start = _cursor_index(shown, params, newest_first=True)
        page, rest = shown[start : start + limit], shown[start + limit :]
        return {
            "messages": [self._render(channel, m) for m in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "response_metadata": {"next_cursor": _cursor(rest[0]) if rest else ""},
        }

    def _conversations_info(self, params: Params) -> Params:
        info = self._visible(_required(params, "channel", "channel_not_found"))
        return {"channel": copy.deepcopy(info)}

    def _conversations_members(self, params: Params) -> Params:
        channel = _required(params, "channel", "channel_not_found")
        info = self._visible(channel)
        humans = self.members.get(channel)
        if humans is None:
            humans = [u for u, user in self.users.items() if not user["is_bot"] and not user["deleted"]]
        members = [*humans, self.bot_user_id] if info.get("is_member", info.get("is_im")) else humans
        limit = _limit(params, default=100, maximum=1_000)
        start = 0
        if (raw := _optional(params, "cursor")) is not None:
            try:
                prefix, _, after = base64.b64decode(raw, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise _SlackError("invalid_cursor") from None
            if prefix != "user" or after not in members:
                raise _SlackError("invalid_cursor")
            start = members.index(after)
        page, rest = members[start : start + limit], members[start + limit :]
        next_cursor = base64.b64encode(f"user:{rest[0]}".encode()).decode() if rest else ""
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _visible(self, channel: str) -> Params:
        """The channel's info, if the bot may see it (a private channel only when it is a member)."""
        info = self.channels.get(channel)
        if info is None or (info.get("is_private") and not info.get("is_member")):
            raise _SlackError("channel_not_found")
        return info

    def _readable(self, channel: str) -> None:
        """Refuse to read messages of a channel the bot is not in, as Slack does."""
        if not self._visible(channel).get("is_member", True):
            raise _SlackError("not_in_channel")

    def _users_info(self, params: Params) -> Params:
        user = self.users.get(_required(params, "user", "user_not_found"))
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _apps_connections_open(self, params: Params) -> Params:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"}

    def _views_publish(self, params: Params) -> Params:
        user_id = _required(params, "user_id", "invalid_arguments")
        view = _json_value(params.get("view"), "invalid_arguments")
        if not isinstance(view, dict) or "type" not in view:
            raise _SlackError("invalid_arguments")
        published = {
            "id": f"V{uuid.uuid4().hex[:10].upper()}",
            "team_id": self.team_id,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": uuid.uuid4().hex[:16],
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            **view,
        }
        self.home_views[user_id] = published
        return {"view": published}

    def _views_open(self, params: Params) -> Params:
        # A real trigger_id is valid for 3 s and once; the fake only insists that one is given.
        if _optional(params, "trigger_id") is None and _optional(params, "interactivity_pointer") is None:
            raise _SlackError("invalid_arguments")
        view = _json_value(params.get("view"), "invalid_arguments")
        if not isinstance(view, dict) or view.get("type") != "modal" or "title" not in view:
            raise _SlackError("invalid_arguments")
        view_id = f"V{uuid.uuid4().hex[:10].upper()}"
        opened = {
            "id": view_id,
            "team_id": self.team_id,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": uuid.uuid4().hex[:16],
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
            **view,
        }
        self.opened_views.append(opened)
        return {"view": opened}

    def _assistant_thread_call(self, argument: str) -> Handler:
        def handle(params: Params) -> Params:
            _required(params, "channel_id", "invalid_arguments")
            if argument != "prompts":  # agent experience: prompts pinned to the Messages tab
                _required(params, "thread_ts", "invalid_arguments")
            if argument == "status":
                # Required, but an empty string is valid: it clears the status indicator.
                if params.get("status") is None:
                    raise _SlackError("invalid_arguments")
            elif argument != "prompts":
                _required(params, argument, "invalid_arguments")
            return {}

        return handle


# -- argument helpers ---------------------------------------------------------------------------


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _optional(params: Params, key: str) -> str | None:
    value = params.get(key)
    return None if value is None or value == "" else str(value)


def _required(params: Params, key: str, error: str) -> str:
    value = _optional(params, key)
    if value is None:
        raise _SlackError(error)
    return value


def _flag(params: Params, key: str) -> bool:
    return params.get(key) in (True, 1, "1", "true", "True")


def _json_value(value: Any, error: str) -> Any:
    """Form bodies carry objects as JSON strings; JSON bodies carry them as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _SlackError(error) from None
    return value


def _message_content(params: Params) -> Params:
    """text / blocks / attachments / markdown_text of a message call, validated like Slack."""
    content: Params = {}
    if (text := params.get("text")) is not None:
        content["text"] = str(text)
    if "blocks" in params:
        content["blocks"] = _blocks(params["blocks"])
    if "attachments" in params:
        content["attachments"] = _json_value(params["attachments"], "invalid_attachments")
    if (markdown := params.get("markdown_text")) is not None:
        content["text"] = str(markdown)
        content["blocks"] = [{"type": "markdown", "text": str(markdown)}]
    if not (content.get("text") or content.get("blocks") or content.get("attachments")):
        raise _SlackError("no_text")
    return content


def _blocks(raw: Any) -> list[Params]:
    blocks = _json_value(raw, "invalid_blocks_format")
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and "type" in b for b in blocks):
        raise _SlackError("invalid_blocks_format")
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        limit = BLOCK_TEXT_LIMITS.get(block["type"])
        text = block.get("text")
        text = text.get("text") if isinstance(text, dict) else text
        if limit is not None and isinstance(text, str) and len(text) > limit:
            pointer = f"/blocks/{i}/text" + ("" if block["type"] == "markdown" else "/text")
            problems.append(f"must be less than {limit + 1} characters [json-pointer:{pointer}]")
    if problems:
        raise _SlackError(
            "invalid_blocks",
            errors=problems,
            response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
        )
    return blocks


def _limit(params: Params, *, default: int, maximum: int) -> int:
    raw = params.get("limit")
    if raw in (None, "", 0, "0"):
        return default
    try:
        return max(1, min(int(raw), maximum))
    except (TypeError, ValueError):
        raise _SlackError("invalid_limit") from None


def _in_window(messages: list[Params], params: Params) -> list[Params]:
    """Messages strictly between `oldest` and `latest` (inclusive with `inclusive=1`)."""
    inclusive = _flag(params, "inclusive")
    oldest, latest = _optional(params, "oldest"), _optional(params, "latest")
    low = ts_to_micros(oldest) if oldest else None
    high = ts_to_micros(latest) if latest else None

    def keep(m: Params) -> bool:
        at = ts_to_micros(m["ts"])
        if low is not None and (at < low or (at == low and not inclusive)):
            return False
        return not (high is not None and (at > high or (at == high and not inclusive)))

    return [m for m in messages if keep(m)]


def _cursor(message: Params) -> str:
    """Slack-style cursor: base64 of `next_ts:<ts without the dot>`."""
    return base64.b64encode(f"next_ts:{ts_to_micros(message['ts'])}".encode()).decode()


def _cursor_index(messages: list[Params], params: Params, *, newest_first: bool) -> int:
    """Index of the first message of the page `cursor` points at (0 without a cursor)."""
    raw = _optional(params, "cursor")
    if raw is None:
        return 0
    try:
        prefix, _, value = base64.b64decode(raw, validate=True).decode().partition(":")
        at = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _SlackError("invalid_cursor") from None
    if prefix != "next_ts":
        raise _SlackError("invalid_cursor")
    for i, m in enumerate(messages):
        micros = ts_to_micros(m["ts"])
        if (micros <= at) if newest_first else (micros >= at):
            return i
    return len(messages)
