"""Answer each Slack event and each message once, across redeliveries and replicas.

Slack retries an event it thinks was not acknowledged (up to three times), Socket Mode hides the
retry headers, and a mention arrives both as `app_mention` and as `message`: a claim in Redis
decides which delivery answers. A claim names the event and the message, and is one Lua script,
so it is atomic: of two replicas claiming overlapping names at once, exactly one wins (separate
`SET NX` commands could interleave so that each won one name and neither answered). A small
process-local memory catches redeliveries even while Redis is down (best effort: then two
replicas may both answer). One failed call is not an outage (see `RedisGuard`): the claim is
asked again before this process's memory alone decides.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard
from bot.stores.scripts import Script

# Claims every name still free; wins only when none was held by another claim. ARGV: ttl, token.
CLAIM = """
local won = 1
for _, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  if not held then
    redis.call('SET', key, ARGV[2], 'EX', ARGV[1])
  elseif held ~= ARGV[2] then
    won = 0
  end
end
return won
"""


class Dedupe:
    def __init__(
        self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str, local_size: int = 20_000
    ) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._local_size = local_size
        self._claim = Script(redis, CLAIM)

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
        token = uuid.uuid4().hex  # tells this claim's own keys from another's

        async def op() -> bool:
            return bool(await self._claim(keys=[self._key(n) for n in names], args=[ttl, token]))

        won = await self._guard.run(op, None, what="dedupe")
        if won is None and self._guard.healthy:
            # One call failed (slow, or a dropped connection) but Redis is not judged down: ask
            # again rather than answer on this process's word alone. If the first call did land,
            # the token makes this one see its own claim.
            won = await self._guard.run(op, None, what="dedupe")
        return True if won is None else won  # Redis unreachable: this process's memory decides
