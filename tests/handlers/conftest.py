from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.slack import FakeSlack


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user("U1", "ada")
        fake.add_user("U2", "grace")
        fake.add_channel("C1", name="general")
        yield fake


@pytest.fixture
async def relay() -> AsyncIterator[FakeRelayDance]:
    async with FakeRelayDance() as fake:
        yield fake


@pytest.fixture
async def bot(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[BotUnderTest]:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
    async with bot_under_test(slack, relay, settings) as running_bot:
        yield running_bot
