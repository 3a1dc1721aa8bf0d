"""The app factory: everything the bot is made of is passed in, nothing is read from the environment.

Bolt gets its signing secret and an `authorize` function, so none of Bolt's environment fallbacks
run. With one workspace `authorize` answers with the identity resolved at start-up (no request
waits on an `auth.test` call). With OAuth installs it finds the event's workspace in the Redis
installation store (`bot.core.workspaces`), and a middleware binds that workspace for the event's
handling (`bot.slack.teams`), so every call made for it carries its own token. The install pages
(`/slack/install`, `/slack/oauth_redirect`) are Bolt's `AsyncOAuthFlow` over the same stores,
served by `bot.wiring.server`. Each handler module gets only the parts it uses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis.asyncio as aioredis
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot import log_context
from bot.core.admission import AdmissionGate
from bot.core.answerer import Answerer
from bot.core.archive import AnswerArchive
from bot.core.attachments import IMAGE_MAX_BYTES, FileContents
from bot.core.backfill import Backfiller
from bot.core.context import ConversationReader
from bot.core.jobs import Jobs
from bot.core.knowledge import Knowledge
from bot.core.stop import StopRegistry
from bot.core.tasks import TaskTracker
from bot.core.workspaces import Where, Workspaces
from bot.llm.client import RelayDanceClient
from bot.settings import Settings
from bot.slack import teams
from bot.slack.access import Access
from bot.slack.files import FileFetcher
from bot.slack.identity import BotIdentity, Identity
from bot.slack.middleware import Next, Plain
from bot.slack.oauth_client import OAuthClient
from bot.slack.payloads import describe, problem_with
from bot.slack.policy import Policy
from bot.slack.references import ReferenceDirectory
from bot.slack.schedule import EditScheduler
from bot.slack.search import SlackSearch
from bot.slack.users import UserDirectory
from bot.stores import Stores
from bot.stores.budget import RedisBudget, tiers_from
from bot.stores.installations import RedisInstallationStore, RedisOAuthStateStore
from bot.text.redact import Redactor
from bot.wiring.metrics import Metrics
from handlers import (
    actions,
    assistant,
    commands,
    home,
    installs,
    membership,
    mentions,
    messages,
    settings_modal,
    shortcuts,
)
from handlers.registry import BOT_SCOPES

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Parts:
    """What the running app is made of, for the runtime (health, drain) and the tests."""

    stores: Stores
    tasks: TaskTracker
    jobs: Jobs
    stops: StopRegistry
    metrics: Metrics
    backfill: Backfiller
    oauth: AsyncOAuthFlow | None = None  # OAuth installs: the install and redirect pages
    workspaces: Workspaces | None = None  # OAuth installs: each workspace's token and identity


STATE_SECONDS = 600  # an install started and not finished within ten minutes starts again
WORKSPACE = "relaydance_workspace"  # the Bolt context key `authorize` leaves the found workspace under


def create_app(
    settings: Settings,
    *,
    slack: AsyncWebClient,
    redis: aioredis.Redis,
    llm: RelayDanceClient,
    identity: BotIdentity | None,
    tasks: TaskTracker | None = None,
    metrics: Metrics | None = None,
    downloads: httpx.AsyncClient | None = None,
    search_engine: int | None = None,
) -> tuple[AsyncApp, Parts]:
    """`slack` is a `teams.TeamClient` with OAuth installs (any client with one workspace);
    `identity` is SLACK_BOT_TOKEN's workspace (None with OAuth installs and no such token);
    `downloads` is the client shared files are read with (None: the model sees their names only);
    `search_engine` the Redis Query Engine version the knowledge index uses (None: plain Redis,
    see bot.stores.search_engine.choose)."""
    tasks = tasks or TaskTracker()
    metrics = metrics or Metrics()
    stores = Stores.open(redis, settings, search_engine=search_engine)
    bolt_client = _token_less(slack)
    workspaces: Workspaces | None = None
    oauth: AsyncOAuthFlow | None = None
    seen: Identity
    if settings.oauth:
        if not isinstance(slack, teams.TeamClient):
            raise TypeError("OAuth installs need a teams.TeamClient: one token would answer every workspace")
        installations = RedisInstallationStore(redis, prefix=settings.redis_prefix)
        own = settings.slack_bot_token
        fallback = None if identity is None or own is None else teams.Team(own.reveal(), identity)
        workspaces = Workspaces(installations, slack=bolt_client, fallback=fallback)
        oauth = _oauth_flow(settings, installations, redis, _token_less(slack, OAuthClient))
        seen = teams.TeamIdentity()
    elif identity is not None:
        seen = identity
    else:
        raise ValueError("one workspace (no OAuth installs) needs the bot identity from SLACK_BOT_TOKEN")
    metrics.count_redis_errors(stores.guard)
    users = UserDirectory(slack=slack, cache=stores.names)
    policy = Policy.of(
        allowed_channels=settings.allowed_channels,
        allowed_users=settings.allowed_users,
        blocked_channels=settings.blocked_channels,
        blocked_users=settings.blocked_users,
    )
    access = Access(slack=slack, users=users, admin_users=settings.admin_users, policy=policy)
    files = _file_contents(settings, slack=slack, stores=stores, downloads=downloads)
    reader = ConversationReader(
        slack=slack,
        history=stores.history,
        users=users,
        identity=seen,
        locks=stores.locks,
        max_messages=settings.history_max_messages,
        files=files if settings.file_text_max_bytes else None,
        references=ReferenceDirectory(slack=slack, cache=stores.names),
    )
    budget = RedisBudget(redis, stores.guard, prefix=settings.redis_prefix, tiers=tiers_from(settings))
    metrics.read_budget(budget)
    stops = StopRegistry(stores.stops, admin_users=settings.admin_users)
    answerer = Answerer(
        slack=slack,
        llm=llm,
        gate=EditScheduler(budget),
        stops=stops,
        channels=stores.channels,
        threads=stores.threads,
        history=stores.history,
        archive=AnswerArchive(
            history=stores.history, answers=stores.answers, usage=stores.usage, identity=seen
        ),
        turns=stores.turns,
        edit_interval=settings.edit_interval,
        max_tokens=settings.max_tokens,
        observer=metrics,
        max_tool_steps=settings.max_tool_steps if settings.tools == "auto" else 0,
        images=files if settings.image_input else None,
        native_streaming=settings.slack_native_streaming,
    )
    admission = AdmissionGate(slots=settings.max_concurrent_answers, queue=settings.answer_queue_size)
    metrics.queue_depth.set_function(lambda: admission.waiting)
    jobs = Jobs(
        answerer=answerer,
        reader=reader,
        dedupe=stores.dedupe,
        tasks=tasks,
        llm=llm,
        slack=slack,
        identity=seen,
        budget_tokens=settings.history_budget_tokens,
        ask_context_messages=settings.ask_context_messages,
        knowledge=Knowledge(
            index=stores.index,
            history=stores.history,
            reader=reader,
            access=access,
            identity=seen,
            threads=settings.knowledge_threads,
            slack_search=SlackSearch(slack, scopes=lambda: seen.scopes),
        ),
        access=access,
        admission=admission,
        regenerations=stores.regenerations,
        quotas=stores.quotas,
        redactor=Redactor(settings.redact_patterns, defaults=settings.redact),
        max_summary_parts=settings.max_summary_parts,
    )
    modal = settings_modal.SettingsModal(
        slack=slack, llm=llm, channels=stores.channels, cache=stores.cache, settings=settings
    )
    app = _bolt_app(settings, bolt_client, identity, workspaces)
    app.use(Plain(_bind_log_context))
    if workspaces is not None:
        app.use(Plain(_bind_workspace))
    app.use(Plain(_refuse_malformed))  # Socket Mode's door (HTTP requests were checked by bot.wiring.intake)
    pane = assistant.Pane(
        slack=slack, jobs=jobs, access=access, history=stores.history, identity=seen, cache=stores.cache
    )

    async def answer_dm(team: str, channel: str, event: dict[str, Any]) -> None:
        await pane.answer(team, channel, event, None)

    # Messages first: its middleware records every message before anything else sees it.
    messages.register(
        app,
        history=stores.history,
        index=stores.index,
        threads=stores.threads,
        channels=stores.channels,
        jobs=jobs,
        identity=seen,
        tasks=tasks,
        answer_other_bots=settings.answer_other_bots,
        answer_dm=answer_dm,
    )
    # Then mentions: Bolt tries listeners in the order they were added, for every request.
    mentions.register(
        app,
        jobs=jobs,
        history=stores.history,
        identity=seen,
        tasks=tasks,
        answer_other_bots=settings.answer_other_bots,
    )
    assistant.register(app, pane=pane, tasks=tasks)
    commands.register(
        app,
        slack=slack,
        jobs=jobs,
        access=access,
        history=stores.history,
        users=users,
        identity=seen,
        settings_modal=modal,
        tasks=tasks,
    )
    shortcuts.register(app, jobs=jobs, access=access, identity=seen, tasks=tasks)
    actions.register(
        app,
        slack=slack,
        stops=stops,
        answers=stores.answers,
        feedback=stores.feedback,
        jobs=jobs,
        access=access,
        tasks=tasks,
    )
    settings_modal.register(
        app, modal=modal, channels=stores.channels, access=access, identity=seen, tasks=tasks
    )
    home.register(
        app,
        slack=slack,
        usage=stores.usage,
        feedback=stores.feedback,
        channels=stores.channels,
        access=access,
        identity=seen,
        model=settings.relaydance_model,
        pane=pane,
        tasks=tasks,
    )
    backfill = Backfiller(
        slack=slack,
        store=stores.backfill,
        locks=stores.locks,
        history=stores.history,
        index=stores.index,
        identity=seen,
        days=settings.knowledge_backfill_days if settings.knowledge_threads > 0 else 0,
        pace_seconds=settings.knowledge_backfill_pace,
    )
    membership.register(app, backfill=backfill, identity=seen, tasks=tasks)
    installs.register(app, workspaces=workspaces, tasks=tasks)
    return app, Parts(
        stores=stores,
        tasks=tasks,
        jobs=jobs,
        stops=stops,
        metrics=metrics,
        backfill=backfill,
        oauth=oauth,
        workspaces=workspaces,
    )


async def _bind_log_context(req: AsyncBoltRequest, next: Next) -> None:  # noqa: A002
    """The ids of the event being handled, for its log lines and those of the work it starts."""
    body = req.body
    event = body.get("event")
    event = event if isinstance(event, dict) else {}
    where = body.get("channel")
    team_of = body.get("team")
    channel = (
        event.get("channel")
        or body.get("channel_id")
        or (where.get("id") if isinstance(where, dict) else None)
    )
    team = body.get("team_id") or (team_of.get("id") if isinstance(team_of, dict) else None)
    thread = event.get("thread_ts")
    log_context.bind(
        team=team if isinstance(team, str) else None,
        channel=channel if isinstance(channel, str) else None,
        thread=thread if isinstance(thread, str) else None,
    )
    await next()


async def _refuse_malformed(req: AsyncBoltRequest, next: Next) -> BoltResponse | None:  # noqa: A002
    body = req.body
    problem = problem_with(body)
    if problem is not None:
        log.warning("refused a malformed %s payload: %s", describe(body), problem)
        # Acknowledged and dropped: over Socket Mode an unacknowledged envelope is redelivered.
        return BoltResponse(status=200, body="")
    await next()
    return None


def _file_contents(
    settings: Settings, *, slack: AsyncWebClient, stores: Stores, downloads: httpx.AsyncClient | None
) -> FileContents | None:
    if downloads is None or not (settings.file_text_max_bytes or settings.image_input):
        return None
    # The configured Web API host is Slack's by configuration (a proxy, or the fake in tests).
    extra_hosts = [urlsplit(settings.slack_api_url).netloc] if settings.slack_api_url else []

    def fetcher(max_bytes: int) -> FileFetcher:
        return FileFetcher(
            http=downloads,
            token=lambda: slack.token,  # the bound workspace's (OAuth installs), else SLACK_BOT_TOKEN
            max_bytes=max_bytes,
            extra_hosts=extra_hosts,
        )

    return FileContents(
        fetcher=fetcher(settings.file_text_max_bytes),
        cache=stores.cache,
        slack=slack,
        image_fetcher=fetcher(IMAGE_MAX_BYTES) if settings.image_input else None,
    )


async def _bind_workspace(req: AsyncBoltRequest, next: Next) -> None:  # noqa: A002
    """OAuth installs: the event's workspace (found by `authorize`) for everything it starts."""
    found = req.context.get(WORKSPACE)
    teams.bind(found if isinstance(found, teams.Team) else None)
    await next()


def _token_less(slack: AsyncWebClient, kind: type[AsyncWebClient] = AsyncWebClient) -> AsyncWebClient:
    """A token-less twin of our client (same session and base URL) for Bolt: the token reaches
    Bolt through `authorize`, and Bolt would otherwise warn that it ignores the client's token."""
    return kind(base_url=slack.base_url, session=slack.session, timeout=slack.timeout, logger=slack.logger)


def _oauth_flow(
    settings: Settings, installations: RedisInstallationStore, redis: aioredis.Redis, client: AsyncWebClient
) -> AsyncOAuthFlow:
    """Bolt's install flow with every value given (none of its environment fallbacks runs but
    SLACK_REDIRECT_URI's, which names our setting anyway): straight to Slack's page, states in Redis."""
    client_id, client_secret = settings.slack_client_id, settings.slack_client_secret
    state_secret = settings.slack_state_secret
    assert client_id and client_secret and state_secret  # noqa: S101 - settings.oauth says so
    states = RedisOAuthStateStore(
        redis, prefix=settings.redis_prefix, secret=state_secret.reveal(), expiration_seconds=STATE_SECONDS
    )
    logger = logging.getLogger("bot.oauth")
    return AsyncOAuthFlow(
        client=client,
        logger=logger,
        settings=AsyncOAuthSettings(
            client_id=client_id,
            client_secret=client_secret.reveal(),
            scopes=sorted(BOT_SCOPES),
            user_scopes=[],
            redirect_uri=settings.slack_redirect_uri,
            install_page_rendering_enabled=False,
            authorization_url=settings.slack_authorize_url,
            installation_store=installations,
            installation_store_bot_only=True,
            state_store=states,
            state_expiration_seconds=STATE_SECONDS,
            logger=logger,
        ),
    )


def _bolt_app(
    settings: Settings, client: AsyncWebClient, identity: BotIdentity | None, workspaces: Workspaces | None
) -> AsyncApp:
    if workspaces is not None:
        found_in = workspaces

        async def authorize(
            context: AsyncBoltContext, enterprise_id: str | None, team_id: str | None
        ) -> AuthorizeResult | None:
            where = Where(enterprise_id, team_id, bool(context.is_enterprise_install))
            team = await found_in.find(where)
            if team is None:
                return None  # not installed there: Bolt logs it, answers nothing, calls nothing
            context[WORKSPACE] = team
            return AuthorizeResult(
                enterprise_id=enterprise_id,
                team_id=team_id,
                bot_user_id=team.identity.user_id,
                bot_id=team.identity.bot_id,
                bot_token=team.token,
            )

        return _async_app(settings, client, authorize)

    assert identity is not None and settings.slack_bot_token is not None  # noqa: S101 - create_app checked
    one = identity
    token = settings.slack_bot_token.reveal()

    async def authorize_one() -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=None,
            team_id=one.team_id,
            bot_user_id=one.user_id,
            bot_id=one.bot_id,
            bot_token=token,
        )

    return _async_app(settings, client, authorize_one)


def _async_app(
    settings: Settings, client: AsyncWebClient, authorize: Callable[..., Awaitable[Any]]
) -> AsyncApp:
    return AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret.reveal(),
        authorize=authorize,
        logger=logging.getLogger("bot.bolt"),
        # Slack's own url_verification / ssl_check are still answered by Bolt's built-ins.
        process_before_response=False,
    )
