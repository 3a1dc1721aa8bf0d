"""`Workspaces`: an installed workspace found again (token from the store, identity from
`auth.test` with that token), cached for a while, and refused when Slack no longer takes the token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.workspaces import Where, Workspaces
from bot.slack.identity import BotIdentity
from bot.slack.teams import Team
from bot.stores.installations import RedisInstallationStore
from tests.fakes.slack import GRANTED_SCOPES, FakeSlack

T1 = Where(enterprise_id=None, team_id="T1")


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def installed(token: str, team: str = "T1") -> Installation:
    return Installation(
        app_id="A1", team_id=team, bot_token=token, bot_id="BBOT", bot_user_id="UBOT", user_id="U1"
    )


async def test_found_confirmed_and_cached(
    slack: FakeSlack, session: aiohttp.ClientSession, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisInstallationStore(redis_client, prefix=redis_prefix)
    await store.async_save(installed(slack.bot_token))
    clock = Clock()
    found_in = Workspaces(
        store, slack=AsyncWebClient(base_url=slack.api_url, session=session), cache_seconds=60, clock=clock
    )
    team = await found_in.find(T1)
    assert team is not None and team.token == slack.bot_token
    granted = frozenset(GRANTED_SCOPES.split(","))  # from auth.test's x-oauth-scopes header
    assert team.identity == BotIdentity("T1", "UBOT", "BBOT", url="https://fake.slack.com/", scopes=granted)
    assert await found_in.find(T1) is team and len(slack.calls_to("auth.test")) == 1  # cached
    clock.now += 61
    assert await found_in.find(T1) == team and len(slack.calls_to("auth.test")) == 2  # asked again
    found_in.forget(T1)
    await found_in.find(T1)
    assert len(slack.calls_to("auth.test")) == 3
    assert await found_in.find(Where(None, "T9")) is None


async def test_a_token_slack_refuses_is_no_installation(
    slack: FakeSlack, session: aiohttp.ClientSession, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisInstallationStore(redis_client, prefix=redis_prefix)
    await store.async_save(installed("xoxb-revoked-long-ago"))
    found_in = Workspaces(store, slack=AsyncWebClient(base_url=slack.api_url, session=session))
    assert await found_in.find(T1) is None
    assert slack.calls_to("auth.test")[0].error == "invalid_auth"


async def test_slack_unreachable_answers_from_the_stored_record(
    session: aiohttp.ClientSession, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisInstallationStore(redis_client, prefix=redis_prefix)
    await store.async_save(installed("xoxb-stored"))
    gone = AsyncWebClient(base_url="http://127.0.0.1:1/api/", session=session, timeout=2)
    found_in = Workspaces(store, slack=gone)
    team = await found_in.find(T1)
    assert team == Team("xoxb-stored", BotIdentity("T1", "UBOT", "BBOT"))


async def test_the_bot_tokens_workspace_is_the_fallback_until_it_installs(
    slack: FakeSlack, session: aiohttp.ClientSession, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisInstallationStore(redis_client, prefix=redis_prefix)
    own = Team("xoxb-from-settings", BotIdentity("T1", "UBOT", "BBOT"))
    found_in = Workspaces(store, slack=AsyncWebClient(base_url=slack.api_url, session=session), fallback=own)
    assert await found_in.find(T1) is own
    assert await found_in.find(Where(None, "T2")) is None
    await store.async_save(installed(slack.bot_token))
    installed_team = await found_in.find(T1)
    assert installed_team is not None and installed_team.token == slack.bot_token
