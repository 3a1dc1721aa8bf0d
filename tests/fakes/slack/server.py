"""The fake Slack's HTTP side: `FakeSlack` serves the Web API, response URLs and Socket Mode.

See the package docstring (`tests.fakes.slack`) for the protocol it follows.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from tests.fakes.slack.faults import Faults
from tests.fakes.slack.files import Files
from tests.fakes.slack.installs import Installs, basic_auth
from tests.fakes.slack.methods import WebApi
from tests.fakes.slack.params import Params, SlackError, bearer
from tests.fakes.slack.socket_mode import SocketMode

__all__ = ["APP_TOKEN", "BOT_TOKEN", "GRANTED_SCOPES", "Call", "FakeSlack"]

T = TypeVar("T")

BOT_TOKEN = "xoxb-1-fake-bot-token"
# What the app was granted when installed; Slack lists it in every answer's `x-oauth-scopes` header.
GRANTED_SCOPES = (
    "app_mentions:read,assistant:write,channels:history,channels:read,groups:history,groups:read,"
    "im:history,im:read,mpim:history,mpim:read,chat:write,commands,users:read,files:read,usergroups:read"
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
    token: str | None = None  # the token the call carried (bot, app or None)
    team: str | None = None  # the workspace whose bot token it was (None: no bot token)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return error if isinstance(error, str) else None


class FakeSlack(WebApi):
    """A Slack workspace with one bot, served on a loopback port. See the package docstring.

    The workspace state and its seeding helpers come from `Workspace`, the Web API methods from
    `WebApi`; this class adds the HTTP transport, tokens, fault injection, Socket Mode and waits.
    """

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
        super().__init__(
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            team_id=team_id,
            app_id=app_id,
            team_name=team_name,
            bot_name=bot_name,
        )
        self.bot_token = bot_token
        self.app_token = app_token
        self.latency = latency
        """Seconds slept before answering each Web API call."""
        self.scopes = GRANTED_SCOPES
        """The bot token's scopes, comma-separated, as the `x-oauth-scopes` response header shows them."""

        self.calls: list[Call] = []
        self.responses: list[Params] = []  # what was POSTed to response_url endpoints
        self.socket_mode = SocketMode(app_id=app_id, notify=self._notify)
        self.acks = self.socket_mode.acks
        """Socket Mode acknowledgements received: envelope_id → what the client sent."""
        self.socket_messages = self.socket_mode.messages
        self.faults = Faults()
        self.handlers["apps.connections.open"] = self._apps_connections_open
        self.installs = Installs(app_id=app_id, scopes=self.scopes)
        """Other workspaces (by bot token) and the OAuth side: see `add_team`, `grant`, `uninstall`."""
        self.files = Files(bot_token=bot_token, team_id=team_id)
        self.handlers["files.info"] = self.files.files_info
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def connections(self) -> int:
        """How many Socket Mode websockets have been opened so far."""
        return self.socket_mode.connections

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Self:
        """Bind 127.0.0.1 on a free port and start serving."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self.socket_mode.handle)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/files-pri/{key}/{tail:.*}", self.files.download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Close open websockets and stop serving."""
        await self.socket_mode.close_all()
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

    def add_file(self, id: str, name: str, content: bytes | str, **options: Any) -> Params:
        """Store a file (see `Files.add`); returns it as a message's `files` carry it."""
        return self.files.add(self.base_url, id, name, content, **options)

    def _usergroups_list(self, params: Params) -> Params:
        # usergroups:read is its own scope: without it Slack answers missing_scope.
        if "usergroups:read" not in self.scopes.split(","):
            raise SlackError("missing_scope", needed="usergroups:read", provided=self.scopes)
        return super()._usergroups_list(params)

    # -- inspection ----------------------------------------------------------------------------

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

    def team_calls(self, team_id: str) -> list[Call]:
        """The calls made with that workspace's bot token."""
        return [c for c in self.calls if c.team == team_id]

    # -- other workspaces and OAuth installs ---------------------------------------------------

    def add_team(
        self, team_id: str, *, bot_user_id: str, bot_id: str, team_name: str | None = None
    ) -> WebApi:
        """Another workspace (its own users, channels and messages, the same app and bot name);
        the app is not installed there until `grant` and `oauth.v2.access`. Seed it like this one."""
        return WebApi(
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            team_id=team_id,
            app_id=self.app_id,
            team_name=team_name or f"Workspace {team_id}",
            bot_name=self.bot_name,
        )

    def grant(self, team: WebApi, *, installer: str = "U1") -> str:
        """An admin of `team` approved the install: the code Slack sends back to the redirect URL.
        The workspace's bot token (`xoxb-…-{team_id}`) is issued when the code is exchanged."""
        token = f"xoxb-2-{uuid.uuid4().hex[:12]}-{team.team_id}"
        return self.installs.grant(team, token, installer)

    def token_of(self, team_id: str) -> str:
        """The bot token issued to an installed workspace."""
        for token, team in self.installs.by_token.items():
            if team.team_id == team_id:
                return token
        raise KeyError(f"workspace {team_id} has not installed the app")

    def uninstall(self, team_id: str) -> None:
        """The workspace removed the app: its token no longer works (`token_revoked`)."""
        self.installs.revoke(self.token_of(team_id))

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
        """Make the next `times` calls of `method` fail (see `Faults.fail_next`).

        Defaults to a rate limit (429, `Retry-After: 1`, `ratelimited`). Another `error` alone is
        answered like Slack answers errors, HTTP 200 with `ok: false`; `status=500` gives a
        server error with `internal_error`.
        """
        self.faults.fail_next(method, error=error, status=status, retry_after=retry_after, times=times)

    def rate_limit(self, method: str, calls: int, per_seconds: float, retry_after: int | None = None) -> None:
        """Answer 429 once `method` has been granted `calls` calls within the last `per_seconds`.

        Retry-After defaults to the whole seconds until the window frees a slot.
        """
        self.faults.rate_limit(method, calls, per_seconds, retry_after)

    # -- Socket Mode ---------------------------------------------------------------------------

    async def wait_connected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until a Socket Mode client is connected and has been sent `hello`."""
        connected = self.socket_mode
        await self._wait_until(
            lambda: True if connected.connected else None, timeout, "a Socket Mode connection"
        )

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
        return await self.socket_mode.send_envelope(
            type_,
            payload,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Params:  # noqa: ASYNC109
        """Wait for the client's acknowledgement of an envelope (`{"envelope_id", "payload"?}`)."""
        return await self._wait_until(lambda: self.acks.get(envelope_id), timeout, f"ack of {envelope_id}")

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does every few hours."""
        await self.socket_mode.send_disconnect(reason)

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
        authorization = request.headers.get("Authorization")
        token = bearer(authorization) or token_param
        params = {**query, **form, **body}
        team = self._team_of(token)

        call = Call(
            method=method,
            params=params,
            headers=dict(request.headers),
            received_at=time.monotonic(),
            http_verb=request.method,
            content_type=request.content_type,
            token=token,
            team=None if team is None else team.team_id,
        )
        self.calls.append(call)
        if self.latency > 0:
            await asyncio.sleep(self.latency)

        headers: dict[str, str] = {}
        status, answer = 500, {"ok": False, "error": "fake_slack_crashed"}  # kept if _answer raises
        try:
            if parse_error is not None:
                status, answer = 200, {"ok": False, "error": parse_error}
            elif method == "oauth.v2.access":  # the one method authenticated by the app's client id
                status, answer = 200, self._oauth_v2_access(params, basic_auth(authorization))
            else:
                status, answer, retry_after = self._answer(method, token, params, team or self)
                if retry_after is not None:
                    headers["Retry-After"] = str(retry_after)
                if team is not None:
                    headers["x-oauth-scopes"] = self.scopes
        finally:
            call.status, call.response = status, answer
            await self._notify()
        return web.json_response(answer, status=status, headers=headers)

    def _team_of(self, token: str | None) -> WebApi | None:
        """The workspace a bot token belongs to (this one, or an installed other one)."""
        if token is None:
            return None
        return self if token == self.bot_token else self.installs.by_token.get(token)

    def _oauth_v2_access(self, params: Params, basic: tuple[str, str] | None) -> Params:
        try:
            return {"ok": True, **self.installs.oauth_v2_access(params, basic)}
        except SlackError as e:
            return {"ok": False, "error": e.error}

    def _answer(
        self, method: str, token: str | None, params: Params, api: WebApi
    ) -> tuple[int, Params, int | None]:
        """(HTTP status, body, Retry-After) for one call, applying auth, faults and rate limits;
        `api` is the workspace the token belongs to, whose state the method works on."""
        handler = self.handlers.get(method) if api is self else api.handlers.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, None
        auth_error = self._auth_error(method, token)
        if auth_error is not None:
            return 200, {"ok": False, "error": auth_error}, None
        fault = self.faults.take(method, time.monotonic())
        if fault is not None:
            return fault.status, {"ok": False, "error": fault.error}, fault.retry_after
        try:
            return 200, {"ok": True, **handler(params)}, None
        except SlackError as e:
            return 200, {"ok": False, "error": e.error, **e.extra}, None

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        if token in self.installs.revoked:
            return "token_revoked"
        if token not in (self.bot_token, self.app_token) and token not in self.installs.by_token:
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

    def _apps_connections_open(self, params: Params) -> Params:
        ticket = self.socket_mode.new_ticket()
        return {"url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"}

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
