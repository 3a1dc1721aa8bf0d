"""Reading a conversation while another reader backfills it: against the fake Slack and a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.context import ConversationReader
from bot.model import Conversation, StoredMessage
from bot.slack.identity import BotIdentity
from bot.slack.users import UserDirectory
from bot.stores import Stores
from tests.e2e_harness import make_settings
from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.slack import FakeSlack

BOT = BotIdentity(team_id="T1", user_id="UBOT", bot_id="BBOT")


@pytest.fixture
async def parts(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[tuple[FakeSlack, Stores, ConversationReader]]:
    async with FakeSlack() as slack, FakeRelayDance() as relay, aiohttp.ClientSession() as session:
        slack.add_user("U1", "ada")
        slack.add_channel("C1", name="general")
        stores = Stores.open(
            redis_client, make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
        )
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=session)
        reader = ConversationReader(
            slack=web,
            history=stores.history,
            users=UserDirectory(slack=web, cache=stores.names),
            identity=BOT,
            locks=stores.locks,
            max_messages=50,
            backfill_wait_seconds=0.3,
        )
        yield slack, stores, reader


async def test_a_reader_waits_for_another_ones_backfill_then_reads_what_it_recorded(
    parts: tuple[FakeSlack, Stores, ConversationReader],
) -> None:
    slack, stores, reader = parts
    root = slack.seed_message("C1", "root", "U1")
    slack.seed_message("C1", "a reply", "U1", thread_ts=root)
    conv = Conversation("T1", "C1", root)
    asked = StoredMessage(ts="9999999999.000001", text="and now?", user="U1", thread_ts=root)
    lease = await stores.locks.acquire(f"backfill:{conv.id}", ttl_seconds=30)  # another replica reads
    assert lease is not None

    reading = asyncio.create_task(reader.read(conv, asked))
    await asyncio.sleep(0.1)
    await stores.history.record_many(conv, [StoredMessage(ts=root, text="root", user="U1")])
    await stores.history.mark_backfilled(conv)
    await stores.locks.release(lease)
    messages = await reading
    assert [m.text for m in messages] == ["root", "and now?"]  # what the other reader recorded
    assert slack.calls_to("conversations.replies") == []


async def test_a_reader_goes_on_without_a_backfill_that_takes_too_long(
    parts: tuple[FakeSlack, Stores, ConversationReader],
) -> None:
    slack, stores, reader = parts
    root = slack.seed_message("C1", "root", "U1")
    conv = Conversation("T1", "C1", root)
    asked = StoredMessage(ts="9999999999.000001", text="and now?", user="U1", thread_ts=root)
    assert await stores.locks.acquire(f"backfill:{conv.id}", ttl_seconds=30) is not None  # never released

    messages = await reader.read(conv, asked)
    assert [m.text for m in messages] == ["and now?"]  # no history, but an answer
    assert slack.calls_to("conversations.replies") == []
