"""Who may read what, for one answer: the Audience's decisions against the fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.access import GUEST_CHECK_MEMBERS, Access
from bot.slack.audience import Audience
from bot.slack.users import UserDirectory
from bot.stores.guard import RedisGuard
from bot.stores.names import NameCache
from tests.fakes.slack import FakeSlack


@pytest.fixture
async def access(redis_client: aioredis.Redis, redis_prefix: str) -> AsyncIterator[tuple[FakeSlack, Access]]:
    async with FakeSlack() as slack:
        for user, name in (("U1", "ada"), ("U2", "grace")):
            slack.add_user(user, name)
        slack.add_channel("C1", name="general")
        slack.add_channel("C2", name="eng")
        slack.add_channel("G1", name="secret", is_private=True, members=["U1"])
        slack.add_channel("D1", user="U1")
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        users = UserDirectory(
            slack=client, cache=NameCache(redis_client, RedisGuard(timeout=1), prefix=redis_prefix)
        )
        yield slack, Access(slack=client, users=users, admin_users=())


async def test_decisions_are_cached_per_request(access: tuple[FakeSlack, Access]) -> None:
    slack, acc = access
    audience = Audience(acc, asker="U1", posted_in="C1", bot_user="UBOT")
    assert await audience.allows("C2") and await audience.allows("C2")
    assert not await audience.allows("G1")  # private text never in a public channel
    assert not await audience.allows("D1")  # nor a DM's
    calls = len(slack.calls_to("conversations.info"))
    await audience.allows("C2")
    assert len(slack.calls_to("conversations.info")) == calls
    # Slack is asked about each channel and each person once per request.
    asked = [c.params["channel"] for c in slack.calls_to("conversations.info")]
    assert sorted(asked) == sorted(set(asked))
    people = [c.params["user"] for c in slack.calls_to("users.info")]
    assert sorted(people) == sorted(set(people))


async def test_the_askers_dm_takes_what_the_asker_sees(access: tuple[FakeSlack, Access]) -> None:
    _, acc = access
    mine = Audience(acc, asker="U1", posted_in="D1", bot_user="UBOT")
    assert await mine.allows("G1") and await mine.allows("C2") and await mine.allows("D1")
    theirs = Audience(acc, asker="U2", posted_in="D1", bot_user="UBOT")  # not U2's DM
    assert not await theirs.allows("C2") and not await theirs.allows("D1")


async def test_unknown_channels_and_big_channels_are_refused_safely(access: tuple[FakeSlack, Access]) -> None:
    slack, acc = access
    assert await acc.view("CNOPE") is None
    assert not await Audience(acc, asker="U1", posted_in="CNOPE", bot_user="UBOT").allows("C2")
    for n in range(GUEST_CHECK_MEMBERS + 1):
        slack.add_user(f"UX{n}", f"x{n}")
    assert await acc.has_guests("C1")  # too many to check: assumed
    slack.fail_next("conversations.members", error="internal_error")
    assert await acc.has_guests("C2")
