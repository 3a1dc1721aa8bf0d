"""Two replicas of the bot on one Redis, Slack delivering events to either: what one does, the
other sees. (Stop across replicas is tested with the other buttons, in test_actions.)"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from tests.e2e_harness import make_settings, replicas
from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.signing import app_mention
from tests.fakes.slack import FakeSlack
from tests.handlers.test_history_sources import seed_thread


async def test_two_replicas_asked_at_once_in_an_unseen_thread_read_it_from_slack_once(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
    async with replicas(slack, relay, settings) as (one, other):
        root = seed_thread(slack, 250)
        slack.latency = 0.05
        await asyncio.gather(
            one.send(app_mention(text="<@UBOT> what was decided?", user="U1", thread_ts=root)),
            other.send(app_mention(text="<@UBOT> who decided it?", user="U2", thread_ts=root)),
        )
        await one.answered(1)
        await other.answered(1)
        assert len(slack.calls_to("conversations.replies")) == 2  # one read of two pages, not two reads
        for request in relay.requests:
            assert "ada: reply 249" in [m["content"] for m in request.json["messages"]]
