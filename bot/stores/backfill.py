"""Where each channel's backfill stands, and the pace of Slack's history reads, in Redis so that
every replica shares them: one replica backfills a channel at a time (a lock), a restarted one goes
on from the saved cursor, and all of them together keep to one call per pace per method.

Keys:
- `bf:{team}:{channel}` hash: `phase` (history, replies, done), `oldest`, `cursor` (history page),
  `thread_cursor` (replies page of the thread at the head of the queue);
- `bf:q:{team}:{channel}` list: threads with replies still to read, oldest first;
- `bf:jobs` set of `team:channel` not done yet, to resume after a restart;
- `bf:pace:{team}:{method}` string: when the next call of that method may go (Redis TIME).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard
from bot.stores.scripts import Script

DONE_TTL_SECONDS = 30 * 86400  # a finished channel is not backfilled again for this long

# Reserve the next free slot of a paced method: returns the seconds to wait for it.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local pace = tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, nxt)
redis.call('SET', KEYS[1], tostring(at + pace), 'PX', math.ceil((at + pace - now) * 1000) + 1000)
return tostring(at - now)
"""


@dataclass(frozen=True, slots=True)
class BackfillState:
    phase: str  # "history", "replies" or "done"
    oldest: str
    cursor: str = ""
    thread_cursor: str = ""


class BackfillStore:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, *, prefix: str) -> None:
        self._r = redis
        self._guard = guard
        self._p = f"{prefix}:bf"
        self._reserve = Script(redis, _RESERVE)

    def _state_key(self, team: str, channel: str) -> str:
        return f"{self._p}:{team}:{channel}"

    def _queue_key(self, team: str, channel: str) -> str:
        return f"{self._p}:q:{team}:{channel}"

    async def state(self, team: str, channel: str) -> BackfillState | None:
        async def op() -> BackfillState | None:
            raw = await self._r.hgetall(self._state_key(team, channel))
            if not raw:
                return None
            return BackfillState(
                phase=str(raw.get("phase") or "history"),
                oldest=str(raw.get("oldest") or "0"),
                cursor=str(raw.get("cursor") or ""),
                thread_cursor=str(raw.get("thread_cursor") or ""),
            )

        return await self._guard.run(op, None, what="backfill state")

    async def save(self, team: str, channel: str, state: BackfillState) -> None:
        async def op() -> None:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.hset(
                    self._state_key(team, channel),
                    mapping={
                        "phase": state.phase,
                        "oldest": state.oldest,
                        "cursor": state.cursor,
                        "thread_cursor": state.thread_cursor,
                    },
                )
                if state.phase == "done":
                    pipe.expire(self._state_key(team, channel), DONE_TTL_SECONDS)
                    pipe.srem(f"{self._p}:jobs", f"{team}:{channel}")
                    pipe.delete(self._queue_key(team, channel))
                else:
                    pipe.persist(self._state_key(team, channel))
                    pipe.sadd(f"{self._p}:jobs", f"{team}:{channel}")
                await pipe.execute()

        await self._guard.run(op, None, what="backfill state")

    async def forget(self, team: str, channel: str) -> None:
        """Drop a job that cannot go on (the bot left the channel)."""

        async def op() -> None:
            await self._r.delete(self._state_key(team, channel), self._queue_key(team, channel))
            await self._r.srem(f"{self._p}:jobs", f"{team}:{channel}")

        await self._guard.run(op, None, what="backfill state")

    async def unfinished(self) -> list[tuple[str, str]]:
        async def op() -> list[tuple[str, str]]:
            jobs = await self._r.smembers(f"{self._p}:jobs")
            return sorted(tuple(str(j).split(":", 1)) for j in jobs if ":" in str(j))  # type: ignore[misc]

        return await self._guard.run(op, [], what="backfill jobs")

    async def queue_threads(self, team: str, channel: str, threads: Sequence[str]) -> None:
        if threads:
            await self._guard.run(
                lambda: self._r.rpush(self._queue_key(team, channel), *threads), 0, what="backfill queue"
            )

    async def next_thread(self, team: str, channel: str) -> str | None:
        async def op() -> str | None:
            head = await self._r.lindex(self._queue_key(team, channel), 0)
            return None if head is None else str(head)

        return await self._guard.run(op, None, what="backfill queue")

    async def thread_done(self, team: str, channel: str) -> None:
        await self._guard.run(
            lambda: self._r.lpop(self._queue_key(team, channel)), None, what="backfill queue"
        )

    async def wait_for_slot(self, team: str, method: str, pace: float) -> float:
        """Reserve the next call of `method` in `team`; how many seconds until it may go."""

        async def op() -> float:
            return float(await self._reserve(keys=[f"{self._p}:pace:{team}:{method}"], args=[pace]))

        return await self._guard.run(op, pace, what="backfill pace")
