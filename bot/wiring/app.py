"""The app factory: everything the bot is made of is passed in, nothing is read from the environment.

Bolt gets its signing secret and an `authorize` function over the identity we resolved at start-up,
so none of Bolt's environment fallbacks run and no request waits on an `auth.test` call. Each
handler module gets only the parts it uses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot import log_context
from bot.core.admission import AdmissionGate
from bot.core.answerer import Answerer
from bot.core.archive import AnswerArchive
from bot.core.context import ConversationReader
from bot.core.jobs import Jobs
from bot.core.knowledge import Knowledge
from bot.core.stop import StopRegistry
from bot.core.tasks import TaskTracker
from bot.llm.client import RelayDanceClient
from bot.settings import Settings
from bot.slack.access import Access
from bot.slack.identity import BotIdentity
from bot.slack.payloads import describe, problem_with
from bot.slack.policy import Policy
from bot.slack.schedule import EditScheduler
from bot.slack.users import UserDirectory
from bot.stores import Stores
from bot.stores.budget import RedisBudget, tiers_from
from bot.text.redact import Redactor
from bot.wiring.metrics import Metrics
from handlers import actions, assistant, commands, home, mentions, messages, settings_modal, shortcuts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Parts:
    """What the running app is made of, for the runtime (health, drain) and the tests."""

    stores: Stores
    tasks: TaskTracker
    jobs: Jobs
    stops: StopRegistry
    metrics: Metrics


def create_app(
    settings: Settings,
    *,
    slack: AsyncWebClient,
    redis: aioredis.Redis,
    llm: RelayDanceClient,
    identity: BotIdentity,
    tasks: TaskTracker | None = None,
    metrics: Metrics | None = None,
) -> tuple[AsyncApp, Parts]:
    tasks = tasks or TaskTracker()
    metrics = metrics or Metrics()
    stores = Stores.open(redis, settings)
    metrics.count_redis_errors(stores.guard)
    users = UserDirectory(slack=slack, cache=stores.names)
    policy = Policy.of(
        allowed_channels=settings.allowed_channels,
        allowed_users=settings.allowed_users,
        blocked_channels=settings.blocked_channels,
        blocked_users=settings.blocked_users,
    )
    access = Access(slack=slack, users=users, admin_users=settings.admin_users, policy=policy)
    reader = ConversationReader(
        slack=slack,
        history=stores.history,
        users=users,
        identity=identity,
        locks=stores.locks,
        max_messages=settings.history_max_messages,
    )
    stops = StopRegistry(stores.stops, admin_users=settings.admin_users)
    answerer = Answerer(
        slack=slack,
        llm=llm,
        gate=EditScheduler(
            RedisBudget(redis, stores.guard, prefix=settings.redis_prefix, tiers=tiers_from(settings))
        ),
        stops=stops,
        channels=stores.channels,
        threads=stores.threads,
        history=stores.history,
        archive=AnswerArchive(
            history=stores.history, answers=stores.answers, usage=stores.usage, identity=identity
        ),
        turns=stores.turns,
        edit_interval=settings.edit_interval,
        max_tokens=settings.max_tokens,
        observer=metrics,
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
        identity=identity,
        budget_tokens=settings.history_budget_tokens,
        ask_context_messages=settings.ask_context_messages,
        knowledge=Knowledge(
            index=stores.index,
            history=stores.history,
            reader=reader,
            access=access,
            identity=identity,
            threads=settings.knowledge_threads,
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
    app = _bolt_app(settings, slack, identity)
    app.use(_bind_log_context)
    app.use(_refuse_malformed)  # Socket Mode's door (HTTP requests were checked by bot.wiring.intake)
    pane = assistant.Pane(
        slack=slack, jobs=jobs, access=access, history=stores.history, identity=identity, cache=stores.cache
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
        identity=identity,
        tasks=tasks,
        answer_other_bots=settings.answer_other_bots,
        answer_dm=answer_dm,
    )
    assistant.register(app, pane=pane, tasks=tasks)
    mentions.register(
        app,
        jobs=jobs,
        history=stores.history,
        identity=identity,
        tasks=tasks,
        answer_other_bots=settings.answer_other_bots,
    )
    commands.register(
        app,
        slack=slack,
        jobs=jobs,
        access=access,
        history=stores.history,
        users=users,
        identity=identity,
        settings_modal=modal,
        tasks=tasks,
    )
    shortcuts.register(app, jobs=jobs, access=access, identity=identity, tasks=tasks)
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
        app, modal=modal, channels=stores.channels, access=access, identity=identity, tasks=tasks
    )
    home.register(
        app,
        slack=slack,
        usage=stores.usage,
        feedback=stores.feedback,
        channels=stores.channels,
        access=access,
        identity=identity,
        model=settings.relaydance_model,
        pane=pane,
        tasks=tasks,
    )
    return app, Parts(stores=stores, tasks=tasks, jobs=jobs, stops=stops, metrics=metrics)


async def _bind_log_context(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:  # noqa: A002
    """The ids of the event being handled, for its log lines and those of the work it starts."""
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


async def _refuse_malformed(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:  # noqa: A002
    problem = problem_with(body)
    if problem is not None:
        log.warning("refused a malformed %s payload: %s", describe(body), problem)
        # Acknowledged and dropped: over Socket Mode an unacknowledged envelope is redelivered.
        return BoltResponse(status=200, body="")
    await next()
    return None


def _bolt_app(settings: Settings, slack: AsyncWebClient, identity: BotIdentity) -> AsyncApp:
    token = settings.slack_bot_token.reveal()

    async def authorize() -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=None,
            team_id=identity.team_id,
            bot_user_id=identity.user_id,
            bot_id=identity.bot_id,
            bot_token=token,
        )

    # Bolt gets a token-less twin of our client (same session and base URL): the token reaches
    # it through `authorize`, and Bolt would otherwise warn that it ignores the client's token.
    bolt_client = AsyncWebClient(
        base_url=slack.base_url, session=slack.session, timeout=slack.timeout, logger=slack.logger
    )
    return AsyncApp(
        client=bolt_client,
        signing_secret=settings.slack_signing_secret.reveal(),
        authorize=authorize,
        logger=logging.getLogger("bot.bolt"),
        # Slack's own url_verification / ssl_check are still answered by Bolt's built-ins.
        process_before_response=False,
    )
