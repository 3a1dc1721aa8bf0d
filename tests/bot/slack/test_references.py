"""Channel and user group names for references by ID alone: against the fake Slack and a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.references import ReferenceDirectory
from bot.stores.guard import RedisGuard
from bot.stores.names import NameCache
from tests.fakes.slack import GRANTED_SCOPES, FakeSlack


@pytest.fixture
async def web(slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=session)


def directory(
    web: AsyncWebClient, redis_client: aioredis.Redis, prefix: str, **kw: float
) -> ReferenceDirectory:
    cache = NameCache(redis_client, RedisGuard(timeout=0.5), prefix=prefix)
    return ReferenceDirectory(slack=web, cache=cache, **kw)  # type: ignore[arg-type]


async def test_groups_and_channels_are_named_and_kept_in_redis(
    slack: FakeSlack, web: AsyncWebClient, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    slack.add_usergroup("S1", "oncall", "On-call engineers", users=["U1"])
    slack.add_usergroup("S2", "old-team", "Old team", disabled=True)
    slack.add_channel("C2", name="deploys")
    slack.add_channel("G3", name="secret", is_private=True, bot_member=False)

    names = await directory(web, redis_client, redis_prefix).names("T1", ["S1", "S2", "S9", "C2", "G3", "U1"])
    again = await directory(web, redis_client, redis_prefix).names("T1", ["S1", "C2"])  # another replica

    assert names == {
        "S1": "@oncall",
        "S2": "@old-team",
        "S9": "a user group",
        "C2": "#deploys",
        "G3": "a channel",
    }
    assert again == {"S1": "@oncall", "C2": "#deploys"}
    assert len(slack.calls_to("usergroups.list")) == 1
    assert slack.calls_to("usergroups.list")[0].params["include_disabled"] in ("1", "true", True)
    assert sorted(c.params["channel"] for c in slack.calls_to("conversations.info")) == ["C2", "G3"]


async def test_without_the_usergroups_scope_a_group_reads_neutrally_and_is_not_asked_again(
    slack: FakeSlack, web: AsyncWebClient, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    slack.scopes = GRANTED_SCOPES.replace(",usergroups:read", "")
    slack.add_usergroup("S1", "oncall", "On-call engineers")
    now = [0.0]
    refs = directory(web, redis_client, redis_prefix, refused_seconds=60, clock=lambda: now[0])

    assert await refs.names("T1", ["S1"]) == {"S1": "a user group"}
    assert await refs.names("T1", ["S1"]) == {"S1": "a user group"}
    assert [c.error for c in slack.calls_to("usergroups.list")] == ["missing_scope"]

    slack.scopes = GRANTED_SCOPES  # the scope granted on reinstall: asked again once the pause is over
    now[0] = 61.0
    assert await refs.names("T1", ["S1"]) == {"S1": "@oncall"}


async def test_a_failing_slack_leaves_the_neutral_words_and_nothing_cached(
    slack: FakeSlack, web: AsyncWebClient, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    slack.add_channel("C2", name="deploys")
    slack.fail_next("conversations.info", status=500)
    refs = directory(web, redis_client, redis_prefix)

    assert await refs.names("T1", ["C2"]) == {"C2": "a channel"}
    assert await refs.names("T1", ["C2"]) == {"C2": "#deploys"}
    assert await refs.names("T1", []) == {}


async def test_a_group_list_that_fails_for_a_moment_is_asked_again(
    slack: FakeSlack, web: AsyncWebClient, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    slack.add_usergroup("S1", "oncall", "On-call engineers")
    slack.fail_next("usergroups.list", status=500)
    refs = directory(web, redis_client, redis_prefix)

    assert await refs.names("T1", ["S1"]) == {"S1": "a user group"}
    assert await refs.names("T1", ["S1"]) == {"S1": "@oncall"}


async def test_an_unreachable_slack_leaves_the_neutral_words(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    async with aiohttp.ClientSession() as session:
        down = AsyncWebClient(token="xoxb-1", base_url="http://127.0.0.1:1/api/", session=session)
        refs = directory(down, redis_client, redis_prefix)
        assert await refs.names("T1", ["S1", "C1"]) == {"S1": "a user group", "C1": "a channel"}
