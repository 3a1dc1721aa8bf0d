"""Answer each Slack event and each message once, across redeliveries and replicas.

Slack retries an event it thinks was not acknowledged (up to three times), Socket Mode hides the
retry headers, and a mention arrives both as `app_mention` and as `message`: a claim in Redis
(`SET NX`) decides which delivery answers. A small process-local memory catches redeliveries even
while Redis is down (best effort: then two replicas may both answer).
"""

from __future__ import annotations

from collections import OrderedDict

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard


class Dedupe:
    def __init__(
        self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str, local_size: int = 20_000
    ) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._local_size = local_size

    def _key(self, name: str) -> str:
        return f"{self._prefix}:event:{name}"

    async def claim(self, *names: str, ttl: int = 3600) -> bool:
        """True when none of `names` was claimed before (in this process or, via Redis, any
        process); all are claimed either way. One round trip, since it runs before every answer."""
        if any(name in self._seen for name in names):
            return False
        for name in names:
            self._seen[name] = None
        while len(self._seen) > self._local_size:
            self._seen.popitem(last=False)

        async def op() -> bool:
            async with self._r.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.set(self._key(name), "1", nx=True, ex=ttl)
                results = await pipe.execute()
            return all(results)

        return await self._guard.run(op, True, what="dedupe")
