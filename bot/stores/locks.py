"""Short locks shared by replicas: `SET NX PX` with a token, released only by their holder.

Used where two replicas (or two answers in one) would otherwise do the same rationed work at
once, such as reading one thread from Slack. A lock always has a TTL, so a holder that dies
releases it by itself. While Redis is unreachable a lock is granted without being held (the
work goes on as if there were no other replica, as the rest of the bot does then).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard
from bot.stores.scripts import Script

# Compare-and-delete: only the holder's token releases the lock.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Compare-and-extend: only the holder keeps it.
REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Lease:
    key: str
    token: str | None  # None: granted while Redis was unreachable, nothing is held


class Locks:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._release = Script(redis, RELEASE)
        self._refresh = Script(redis, REFRESH)

    def key(self, name: str) -> str:
        return f"{self._prefix}:lock:{name}"

    async def acquire(self, name: str, *, ttl_seconds: float) -> Lease | None:
        """The lock, or None when someone else holds it."""
        key, token = self.key(name), uuid.uuid4().hex

        async def op() -> bool:
            return bool(await self._r.set(key, token, nx=True, px=int(ttl_seconds * 1000)))

        got = await self._guard.run(op, None, what="lock")
        if got is None:
            return Lease(key, None)
        return Lease(key, token) if got else None

    async def held(self, name: str) -> bool:
        """Whether someone holds the lock (False when Redis cannot tell)."""

        async def op() -> bool:
            return bool(await self._r.exists(self.key(name)))

        return await self._guard.run(op, False, what="lock")

    async def wait_released(self, name: str, *, seconds: float, poll: float = 0.1) -> bool:
        """Wait until nobody holds the lock; False when it was still held after `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while await self.held(name):  # noqa: ASYNC110 - the holder may be another process: poll Redis
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(poll)
        return True

    async def refresh(self, lease: Lease, *, ttl_seconds: float) -> bool:
        """Keep holding `lease` for another `ttl_seconds`; False when it is no longer ours."""
        token = lease.token
        if token is None:
            return True

        async def op() -> bool:
            return bool(await self._refresh(keys=[lease.key], args=[token, int(ttl_seconds * 1000)]))

        return await self._guard.run(op, True, what="lock")

    async def release(self, lease: Lease) -> None:
        if lease.token is not None:
            token = lease.token
            await self._guard.run(lambda: self._release(keys=[lease.key], args=[token]), 0, what="lock")
