"""The stores' Lua scripts, each sent whole with EVAL: Redis caches it compiled, and no call meets
NOSCRIPT. (With EVALSHA the first calls on a fresh or restarted Redis fail and each pays two more
round trips: fifty at once in a burst of mentions, just before their placeholders are posted.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis


class Script:
    def __init__(self, redis: aioredis.Redis, source: str) -> None:
        self._r = redis
        self._source = source

    async def __call__(self, *, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        return await self._r.eval(self._source, len(keys), *keys, *(str(a) for a in args))
