"""The stores' Lua scripts, called by their SHA1 (EVALSHA), sent whole (EVAL) only when Redis does
not have them: a fresh or restarted Redis, or one whose script cache was flushed.

Sending the source every time cost more than the command: the budget's script is 5.7 kB, packed
and written by the bot and hashed by Redis on every Slack call (about 5% of an answer's CPU in a
1,000-answer burst). A miss costs one more round trip, and EVAL leaves the script cached for the
calls after it; calls issued together miss together and are retried together (`CoalescingRedis`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError


class Script:
    def __init__(self, redis: aioredis.Redis, source: str) -> None:
        self._r = redis
        self._source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, *, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        values = [str(a) for a in args]
        try:
            return await self._r.evalsha(self.sha, len(keys), *keys, *values)
        except NoScriptError:
            return await self._r.eval(self._source, len(keys), *keys, *values)
