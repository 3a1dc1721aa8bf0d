"""Which answers are streaming on any replica, who asked each, and Stop requests between replicas.

Slack delivers a button press to whichever replica it likes, so the replica that streams an
answer records it here (`run:<answer_id>` with its asker, a short TTL its owner keeps refreshing,
so the record of a replica that died goes away by itself). A replica pressed on checks the
press against that record and records who stopped it in one script, which also publishes the
request on the `stops` channel; the streaming replica, subscribed while it streams, cancels its
task. A request that lands while the streaming replica is (re)subscribing is not lost: after
subscribing it reads the recorded `stopped_by` of its answers.

The subscription is the one long-lived Redis call that does not go through `RedisGuard`: its
errors reach the caller, which reconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Literal

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard
from bot.stores.scripts import Script

log = logging.getLogger(__name__)

RUN_TTL_SECONDS = 60

Verdict = Literal["stopped", "not_allowed", "not_running"]

# KEYS[1]: the run. ARGV: user, privileged ("1": an admin), channel, message.
REQUEST = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_running' end
if ARGV[2] ~= '1' and redis.call('HGET', KEYS[1], 'asker') ~= ARGV[1] then return 'not_allowed' end
if redis.call('HSETNX', KEYS[1], 'stopped_by', ARGV[1]) == 1 then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return 'stopped'
"""


class Inbox:
    """Stop requests as they are published: (answer_id, user) pairs."""

    def __init__(self, pubsub: aioredis.client.PubSub) -> None:
        self._pubsub = pubsub

    async def next(self, timeout: float) -> tuple[str, str] | None:  # noqa: ASYNC109 - a poll, not a wait
        """The next request, or None when none came within `timeout` seconds."""
        message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        if message is None or message.get("type") != "message":
            return None
        try:
            data = json.loads(message["data"])
            return str(data["answer_id"]), str(data["user"])
        except (ValueError, KeyError, TypeError):
            log.info("ignoring a malformed stop request")
            return None


class StopSignals:
    def __init__(
        self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str, ttl_seconds: int = RUN_TTL_SECONDS
    ) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self.ttl = ttl_seconds
        self.channel = f"{prefix}:stops"
        self._request = Script(redis, REQUEST)

    def _key(self, answer_id: str) -> str:
        return f"{self._prefix}:run:{answer_id}"

    async def announce(self, runs: Mapping[str, str | None]) -> None:
        """Record (or keep alive) answers streaming here, with who asked each."""
        if not runs:
            return

        async def op() -> None:
            async with self._r.pipeline(transaction=False) as pipe:
                for answer_id, asker in runs.items():
                    pipe.hset(self._key(answer_id), "asker", asker or "")
                    pipe.expire(self._key(answer_id), self.ttl)
                await pipe.execute()

        await self._guard.run(op, None, what="stop registration")

    async def withdraw(self, answer_id: str) -> None:
        await self._guard.run(lambda: self._r.delete(self._key(answer_id)), 0, what="stop registration")

    async def request(self, answer_id: str, user: str, *, privileged: bool) -> Verdict | None:
        """Ask whichever replica streams `answer_id` to stop it; None when Redis cannot be asked."""
        message = json.dumps({"answer_id": answer_id, "user": user})

        async def op() -> Verdict:
            args = [user, "1" if privileged else "0", self.channel, message]
            verdict = str(await self._request(keys=[self._key(answer_id)], args=args))
            if verdict == "stopped":
                return "stopped"
            return "not_allowed" if verdict == "not_allowed" else "not_running"

        return await self._guard.run(op, None, what="stop request")

    async def requested(self, answer_ids: Sequence[str]) -> dict[str, str]:
        """Who asked to stop which of `answer_ids` (requests published while nobody listened)."""
        if not answer_ids:
            return {}

        async def op() -> dict[str, str]:
            async with self._r.pipeline(transaction=False) as pipe:
                for answer_id in answer_ids:
                    pipe.hget(self._key(answer_id), "stopped_by")
                found = await pipe.execute()
            return {a: str(user) for a, user in zip(answer_ids, found, strict=True) if user}

        return await self._guard.run(op, {}, what="stop requests")

    @asynccontextmanager
    async def listening(self) -> AsyncIterator[Inbox]:
        """Subscribed to Stop requests (Redis confirmed it) for as long as the block runs."""
        pubsub = self._r.pubsub()
        try:
            async with asyncio.timeout(self._guard.bound):
                await pubsub.subscribe(self.channel)
                while (await pubsub.get_message(timeout=self._guard.timeout)) is None:
                    pass  # waiting for the confirmation
            yield Inbox(pubsub)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # untyped before redis-py 8.2
