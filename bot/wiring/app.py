"""The app factory: everything the bot is made of is passed in, nothing is read from the environment.

Bolt gets its signing secret and an `authorize` function over the identity we resolved at start-up,
so none of Bolt's environment fallbacks run and no request waits on an `auth.test` call.
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.answerer import Answerer
from bot.core.deps import Deps
from bot.core.tasks import TaskTracker
from bot.llm.client import RelayDanceClient
from bot.settings import Settings
from bot.slack.reads import BotIdentity
from bot.slack.renderer import EditGate
from bot.slack.users import UserDirectory
from bot.stores.guard import RedisGuard
from bot.stores.history import HistoryStore
from bot.stores.records import Records
from handlers import actions, assistant, commands, home, mentions, messages, settings_modal, shortcuts

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    slack: AsyncWebClient,
    redis: aioredis.Redis,
    llm: RelayDanceClient,
    identity: BotIdentity,
    tasks: TaskTracker | None = None,
) -> tuple[AsyncApp, Deps]:
    guard = RedisGuard(timeout=settings.redis_timeout)
    store = HistoryStore(
        redis,
        guard,
        prefix=settings.redis_prefix,
        max_messages=settings.history_max_messages,
        ttl_seconds=settings.history_ttl_seconds,
    )
    names = UserDirectory(slack=slack, store=store)
    records = Records(redis, guard, store.keys, ttl_seconds=settings.history_ttl_seconds)
    answerer = Answerer(
        settings=settings,
        slack=slack,
        llm=llm,
        store=store,
        records=records,
        names=names,
        gate=EditGate(),
        identity=identity,
    )
    deps = Deps(
        settings=settings,
        slack=slack,
        store=store,
        records=records,
        answerer=answerer,
        llm=llm,
        names=names,
        tasks=tasks or TaskTracker(),
        identity=identity,
    )
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
    app = AsyncApp(
        client=bolt_client,
        signing_secret=settings.slack_signing_secret.reveal(),
        authorize=authorize,
        logger=logging.getLogger("bot.bolt"),
        # Slack's own url_verification / ssl_check are still answered by Bolt's built-ins.
        process_before_response=False,
    )
    for surface in (assistant, mentions, messages, commands, shortcuts, actions, settings_modal, home):
        surface.register(app, deps)
    return app, deps
