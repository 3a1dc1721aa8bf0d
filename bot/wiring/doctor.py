"""`python -m bot doctor`: check every setting against the services it names, one line per check.

A wrong RelayDance key, base URL or model, a Slack token without the scopes the code calls for, a
refused app token or a Redis that loses data on restart otherwise shows up only in the thread of
the first question, or as a traceback. Each check says what it found and, when something is wrong,
what to change. Nothing here prints a secret.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from enum import Enum

import aiohttp
import httpx
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ConfigError, UpstreamAuthError, UpstreamError, UpstreamModelNotFound
from bot.llm.client import RelayDanceClient
from bot.settings import ConfigErrors, Settings
from bot.slack.oauth_client import OAuthClient

CHECK_SECONDS = 15.0  # one check never holds the whole report up for longer
DOCTOR_CODE = "doctor-check"  # a code no install ever had: Slack checks the client id and secret first
OLDEST_REDIS = (6, 0)  # user names in REDIS_URL (ACLs) need 6.0; older lines get no fixes


class Mark(Enum):
    OK = "✓"
    WARN = "⚠"  # works, but an operator should know (does not fail the run)
    BAD = "✗"


@dataclass(frozen=True, slots=True)
class Check:
    mark: Mark
    what: str
    found: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.mark.value} {self.what}: {self.found}"
        return f"{text} — fix: {self.fix}" if self.fix else text


def ok(what: str, found: str) -> Check:
    return Check(Mark.OK, what, found)


def bad(what: str, found: str, fix: str) -> Check:
    return Check(Mark.BAD, what, found, fix)


def settings_checks(error: ConfigError) -> list[Check]:
    problems = error.problems if isinstance(error, ConfigErrors) else [error]
    return [
        bad(f"setting {p.name}", p.problem, f"set {p.name} in the environment or in .env") for p in problems
    ]


async def diagnose(settings: Settings, *, required_scopes: Collection[str]) -> list[Check]:
    """Every check, in the order an admin would fix them (Slack, RelayDance, Redis)."""
    mode = "Socket Mode" if settings.socket_mode else f"HTTP mode on port {settings.port}"
    if settings.oauth:
        mode += ", OAuth installs for many workspaces"
    checks = [ok("settings", f"all valid ({mode}, model {settings.relaydance_model})")]
    async with aiohttp.ClientSession() as session:
        token = settings.slack_bot_token
        if token is not None:
            slack = AsyncWebClient(token=token.reveal(), base_url=settings.slack_api_url, session=session)
            checks += await _bounded("Slack bot token", lambda: _slack_checks(slack, required_scopes))
        else:
            found = "not set: each workspace's own token comes with its install (OAuth)"
            checks.append(ok("Slack bot token (SLACK_BOT_TOKEN)", found))
        if settings.oauth:
            checks += await _bounded("Slack OAuth", lambda: _oauth_checks(settings, session))
        checks += await _bounded("Socket Mode", lambda: _socket_mode(settings, session))
    checks += await _bounded("RelayDance", lambda: _relaydance(settings))
    checks += await _bounded("Redis", lambda: _redis(settings))
    return checks


async def _bounded(what: str, run: Callable[[], Awaitable[list[Check]]]) -> list[Check]:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            return await run()
    except TimeoutError:
        return [bad(what, f"no answer within {CHECK_SECONDS:g} s", "check the URL and the network path")]


async def _slack_checks(slack: AsyncWebClient, required: Collection[str]) -> list[Check]:
    what = "Slack bot token (SLACK_BOT_TOKEN)"
    try:
        response = await slack.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        fix = "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page"
        return [bad(what, f"refused by Slack ({error})", fix)]
    except aiohttp.ClientError as exc:
        fix = "check SLACK_API_URL (normally https://slack.com/api/) and the network"
        return [bad("Slack API (SLACK_API_URL)", f"not reachable ({type(exc).__name__})", fix)]
    team, user = response.get("team") or response.get("team_id"), response.get("user") or "?"
    checks = [ok(what, f"accepted (workspace {team}, bot @{user})")]
    header = response.headers.get("x-oauth-scopes") or response.headers.get("X-OAuth-Scopes")
    if header is None:
        checks.append(Check(Mark.WARN, "Slack scopes", "Slack did not report the token's scopes"))
        return checks
    granted = {scope.strip() for scope in str(header).split(",") if scope.strip()}
    missing = sorted(set(required) - granted)
    if missing:
        fix = "add them under OAuth & Permissions (or paste manifest.yml again) and reinstall the app"
        checks.append(bad("Slack scopes", f"missing {', '.join(missing)}", fix))
    else:
        checks.append(ok("Slack scopes", f"all {len(required)} the bot uses are granted"))
    return checks


async def _oauth_checks(settings: Settings, session: aiohttp.ClientSession) -> list[Check]:
    """The client id and secret, tried the only way Slack offers without a real install:
    `oauth.v2.access` with a made-up code answers `invalid_code` only when both are right."""
    what = "Slack OAuth client (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET)"
    client_id, secret = settings.slack_client_id, settings.slack_client_secret
    assert client_id is not None and secret is not None  # noqa: S101 - settings.oauth says so
    client = OAuthClient(base_url=settings.slack_api_url, session=session)
    try:
        await client.oauth_v2_access(client_id=client_id, client_secret=secret.reveal(), code=DOCTOR_CODE)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "invalid_client_id":
            fix = "copy the Client ID from the app's Basic Information → App Credentials"
            return [bad("Slack OAuth client (SLACK_CLIENT_ID)", "unknown to Slack (invalid_client_id)", fix)]
        if error == "bad_client_secret":
            fix = "copy the Client Secret from Basic Information → App Credentials"
            return [bad("Slack OAuth client (SLACK_CLIENT_SECRET)", "refused (bad_client_secret)", fix)]
        if error != "invalid_code":
            return [Check(Mark.WARN, what, f"Slack answered {error}; the pair could not be confirmed")]
    except aiohttp.ClientError as exc:
        return [bad(what, f"Slack not reachable ({type(exc).__name__})", "check SLACK_API_URL")]
    else:
        return [Check(Mark.WARN, what, "Slack accepted a made-up code; the pair could not be confirmed")]
    redirect = settings.slack_redirect_uri or "https://<this host>/slack/oauth_redirect"
    found = f"accepted; workspaces install at /slack/install (redirect URL in the manifest: {redirect})"
    return [ok(what, found)]


async def _socket_mode(settings: Settings, session: aiohttp.ClientSession) -> list[Check]:
    what = "Socket Mode token (SLACK_APP_TOKEN)"
    if settings.slack_app_token is None:
        return [ok("Socket Mode", f"off: Slack must reach this bot over HTTP on port {settings.port}")]
    client = AsyncWebClient(base_url=settings.slack_api_url, session=session)
    try:
        await client.apps_connections_open(app_token=settings.slack_app_token.reveal())
    except SlackApiError as exc:
        fix = "create an app-level token with connections:write (Basic Information → App-Level Tokens)"
        return [bad(what, f"refused by Slack ({exc.response.get('error')})", fix)]
    except aiohttp.ClientError as exc:
        return [bad(what, f"Slack not reachable ({type(exc).__name__})", "check SLACK_API_URL")]
    return [ok(what, "accepted (Slack offered a connection)")]


async def _relaydance(settings: Settings) -> list[Check]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=settings.connect_timeout)) as http:
        llm = RelayDanceClient(
            http=http,
            base_url=settings.relaydance_base_url,
            api_key=settings.relaydance_api_key.reveal(),
            connect_timeout=settings.connect_timeout,
            first_token_timeout=10.0,
            idle_timeout=10.0,
            max_retries=0,
        )
        try:
            models = await llm.list_models()
        except UpstreamAuthError:
            return [
                bad("RelayDance key (RELAYDANCE_API_KEY)", "refused (401/403)", "paste a valid API key"),
            ]
        except UpstreamModelNotFound:
            fix = "point it at the API root that serves /models and /chat/completions (e.g. …/v1)"
            return [bad("RelayDance URL (RELAYDANCE_BASE_URL)", "GET /models answered 404", fix)]
        except UpstreamError as exc:
            found = f"GET /models failed ({type(exc).__name__}{_status(exc)})"
            return [bad("RelayDance URL (RELAYDANCE_BASE_URL)", found, "check the URL and the network")]
    checks = [
        ok("RelayDance key (RELAYDANCE_API_KEY)", "accepted"),
        ok("RelayDance URL (RELAYDANCE_BASE_URL)", f"answers GET /models ({len(models)} models)"),
    ]
    checks.append(_model_check(settings.relaydance_model, models))
    return checks


def _status(exc: UpstreamError) -> str:
    return f", HTTP {exc.status}" if exc.status else ""


def _model_check(model: str, models: Sequence[str]) -> Check:
    what = "RelayDance model (RELAYDANCE_MODEL)"
    if model in models:
        return ok(what, f"{model} is offered")
    if not models:
        return Check(Mark.WARN, what, f"GET /models listed nothing; {model} cannot be confirmed")
    shown = ", ".join(sorted(models)[:8]) + (", …" if len(models) > 8 else "")
    return bad(what, f"{model} is not offered to this key", f"use one of: {shown}")


async def _redis(settings: Settings) -> list[Check]:
    if settings.redis_url is None:
        return [_embedded_redis(settings)]
    what = "Redis (REDIS_URL)"
    client = aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True
    )
    try:
        await client.ping()
        server = await client.info("server")
        persistence = await client.info("persistence")
        memory = await client.info("memory")
        save = await _save_rules(client)
    except RedisError as exc:
        fix = "start Redis or correct REDIS_URL (password: redis://:PASSWORD@host:6379/0)"
        return [bad(what, f"not reachable ({type(exc).__name__}: {_redacted(str(exc))})", fix)]
    finally:
        await client.aclose()
    version = str(server.get("redis_version", "?"))
    checks = [_version_check(what, version)]
    checks.append(_persistence_check(persistence, save))
    policy = str(memory.get("maxmemory_policy", "noeviction"))
    limit = int(memory.get("maxmemory", 0) or 0)
    if limit and policy == "noeviction":
        fix = "set maxmemory-policy volatile-lru (every key the bot writes expires)"
        checks.append(Check(Mark.WARN, "Redis memory", "full memory will refuse writes (noeviction)", fix))
    else:
        shown = f"{limit // 1_048_576} MiB" if limit else "no limit"
        checks.append(ok("Redis memory", f"maxmemory {shown}, policy {policy}"))
    return checks


async def _save_rules(client: aioredis.Redis) -> str | None:
    try:
        rules = await client.config_get("save")
    except ResponseError:  # CONFIG is renamed or refused on many managed services
        return None
    return str(rules.get("save") or "")


def _version_check(what: str, version: str) -> Check:
    try:
        parts = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        return Check(Mark.WARN, what, f"reachable, version {version} not understood")
    if parts < OLDEST_REDIS:
        wanted = ".".join(map(str, OLDEST_REDIS))
        return bad(what, f"version {version} is too old", f"use Redis {wanted} or newer")
    return ok(what, f"reachable, version {version}")


def _persistence_check(info: dict[str, object], save: str | None) -> Check:
    """Append-only file, snapshots (`save` rules) or nothing; `save` is None where CONFIG is off."""
    if str(info.get("aof_enabled", "0")) == "1":
        return ok("Redis persistence", "append-only file on")
    if save:
        return ok("Redis persistence", f"snapshots (save {save}); appendonly yes loses less on a crash")
    if save is None:
        return Check(Mark.WARN, "Redis persistence", "no append-only file; snapshot rules not readable")
    fix = "enable appendonly yes (or snapshots) so history survives a restart"
    return Check(Mark.WARN, "Redis persistence", "off: history is lost when Redis restarts", fix)


def _embedded_redis(settings: Settings) -> Check:
    what = "Redis (REDIS_URL unset: embedded)"
    if shutil.which("redis-server") is None:
        fix = "install redis-server (apt-get install redis-server) or set REDIS_URL"
        return bad(what, "no redis-server on PATH", fix)
    return ok(what, f"redis-server found; data kept under {settings.state_dir / 'redis'}")


def _redacted(text: str) -> str:
    """A Redis error can quote the URL it used; keep a password in it out of the report."""
    return text.split("@")[-1][:120]


def report(checks: Sequence[Check]) -> tuple[str, int]:
    """The printed report and the exit status: 1 when anything is wrong, else 0."""
    lines = [check.line() for check in checks]
    failed = sum(check.mark is Mark.BAD for check in checks)
    lines.append(f"{failed} problem(s) found" if failed else "everything checked is in order")
    return "\n".join(lines), 1 if failed else 0
