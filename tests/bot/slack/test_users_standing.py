"""A person's standing (admin, guest) is read from users.info and kept for a short while."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.users import UserDirectory
from bot.stores.guard import RedisGuard
from bot.stores.names import NameCache
from tests.fakes.slack import FakeSlack


@pytest.fixture
async def directory_and_fake(
    redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[tuple[UserDirectory, FakeSlack, list[float]]]:
    now = [1000.0]
    async with FakeSlack() as slack, aiohttp.ClientSession() as session:
        slack.add_user("U1", "ada")
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=session)
        cache = NameCache(redis_client, RedisGuard(timeout=1), prefix=redis_prefix)
        yield UserDirectory(slack=web, cache=cache, standing_seconds=60, clock=lambda: now[0]), slack, now


async def test_standing_is_kept_for_a_while_then_read_again(
    directory_and_fake: tuple[UserDirectory, FakeSlack, list[float]],
) -> None:
    users, slack, now = directory_and_fake
    assert not (await users.standing("U1")).guest
    slack.users["U1"]["is_restricted"] = True  # made a guest
    now[0] += 30
    assert not (await users.standing("U1")).guest  # still the kept answer
    assert len(slack.calls_to("users.info")) == 1
    now[0] += 31
    assert (await users.standing("U1")).guest
    assert len(slack.calls_to("users.info")) == 2


async def test_a_failed_lookup_counts_as_a_guest_and_is_not_kept(
    directory_and_fake: tuple[UserDirectory, FakeSlack, list[float]],
) -> None:
    users, slack, _ = directory_and_fake
    slack.fail_next("users.info", error="fatal_error")
    standing = await users.standing("U1")
    assert standing.guest and not standing.admin
    assert not (await users.standing("U1")).guest  # asked again, not remembered
