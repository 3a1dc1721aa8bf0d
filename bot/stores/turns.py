"""One answer at a time in each conversation, in the order of the questions, across replicas.

A second question in a thread while the first answer streams must see that answer's final text,
so answers in one conversation take turns: a lock in Redis (`SET NX PX` with a token, refreshed
while held, released by compare-and-delete) granted through a queue ordered by the questions'
timestamps, so the third question does not overtake the second. A waiter that stops polling
(its replica died) is skipped after a few seconds, a holder that dies releases the lock when its
TTL runs out, and a waiter that has waited `wait_seconds` goes on anyway. While Redis is
unreachable turns are granted at once (answers then run side by side, as before).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from bot.model import Conversation, ts_key
from bot.stores.guard import RedisGuard
from bot.stores.locks import REFRESH, RELEASE
from bot.stores.scripts import Script

log = logging.getLogger(__name__)

HOLD_SECONDS = 30.0  # the lock's TTL, refreshed every third of it while held
ALIVE_SECONDS = 3.0  # a waiter not heard from for this long has gone
POLL_SECONDS = 0.1

# KEYS: lock, queue (token -> question order), alive (token -> ms deadline). ARGV: token, hold ms,
# order, alive ms. JOIN puts (or keeps) the waiter in the queue; TAKE also takes the lock when it
# is free and this waiter is first among those still alive.
JOIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local alive = tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], string.format('%.0f', now + alive))
redis.call('PEXPIRE', KEYS[2], alive * 10)
redis.call('PEXPIRE', KEYS[3], alive * 10)
"""
TAKE = (
    JOIN
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
while true do
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if head == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    redis.call('ZREM', KEYS[2], head)
    redis.call('HDEL', KEYS[3], head)
    return 1
  end
  if tonumber(redis.call('HGET', KEYS[3], head) or '0') >= now then return 0 end
  redis.call('ZREM', KEYS[2], head)
  redis.call('HDEL', KEYS[3], head)
end
"""
)


@dataclass(frozen=True, slots=True)
class Ticket:
    """One answer's place in a conversation's queue (made without I/O; `join` sends it)."""

    conv: Conversation
    keys: tuple[str, str, str]  # lock, queue, alive
    token: str
    args: tuple[str | int, ...]


@dataclass(slots=True)
class Turn:
    """A conversation's turn: `held` unless Redis was unreachable or the wait ran out."""

    held: bool
    waited: bool  # whether the answer had to wait for another one
    _release: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)

    async def release(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            await release()


class Turns:
    def __init__(
        self,
        redis: aioredis.Redis,
        guard: RedisGuard,
        *,
        prefix: str,
        hold_seconds: float = HOLD_SECONDS,
        alive_seconds: float = ALIVE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self._hold = hold_seconds
        self._alive = alive_seconds
        self._poll = poll_seconds
        self._join = Script(redis, JOIN)
        self._take = Script(redis, TAKE)
        self._refresh = Script(redis, REFRESH)
        self._release = Script(redis, RELEASE)

    def ticket(self, conv: Conversation, *, order: str) -> Ticket:
        """A place in `conv`'s queue; `order` is the question's ts (earlier questions go first)."""
        base = f"{self._prefix}:turn:{conv.id}"
        seconds, micros = ts_key(order)
        token = uuid.uuid4().hex
        args = (token, int(self._hold * 1000), seconds * 1_000_000 + micros, int(self._alive * 1000))
        return Ticket(conv, (base, f"{base}:queue", f"{base}:alive"), token, args)

    async def join(self, ticket: Ticket) -> None:
        """Stand in line without waiting yet, so a later question that gets here first does not
        go ahead (the answerer joins while its placeholder is being posted)."""
        await self._guard.run(lambda: self._join(keys=ticket.keys, args=ticket.args), None, what="turn")

    async def take(self, ticket: Ticket, *, wait_seconds: float, on_wait: Callable[[], None]) -> Turn:
        """Wait for the ticket's turn (joining the line if not yet in it). `on_wait` is called
        once if the turn is not free at once."""

        async def attempt() -> bool:
            return bool(await self._take(keys=ticket.keys, args=ticket.args))

        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        waited = False
        try:
            while True:
                got = await self._guard.run(attempt, None, what="turn")
                if got is None:
                    return Turn(held=False, waited=waited)  # Redis unreachable: no turns to take
                if got:
                    return self._held(ticket.keys[0], ticket.token, waited)
                if not waited:
                    waited = True
                    on_wait()
                if loop.time() >= deadline:
                    log.info("the previous answer in %s took too long; answering anyway", ticket.conv.id)
                    await self.leave(ticket)
                    return Turn(held=False, waited=True)
                await asyncio.sleep(self._poll)
        except BaseException:
            await self.leave(ticket)
            raise

    async def leave(self, ticket: Ticket) -> None:
        """Step out of the line (a no-op for a ticket no longer in it)."""
        _, queue, alive = ticket.keys

        async def op() -> None:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.zrem(queue, ticket.token)
                pipe.hdel(alive, ticket.token)
                await pipe.execute()

        await self._guard.run(op, None, what="turn")

    def _held(self, key: str, token: str, waited: bool) -> Turn:
        done = asyncio.Event()

        async def keep() -> None:
            hold_ms = int(self._hold * 1000)
            while True:
                try:
                    await asyncio.wait_for(done.wait(), self._hold / 3)
                    return
                except TimeoutError:
                    pass
                refreshed = await self._guard.run(
                    lambda: self._refresh(keys=[key], args=[token, hold_ms]), 1, what="turn"
                )
                if not refreshed:
                    log.info("the turn in %s lapsed while held", key)
                    return

        keeper = asyncio.create_task(keep(), name=f"turn:{key}")

        async def release() -> None:
            done.set()  # the keeper ends at its next step; no cancellation to get lost
            await keeper
            await self._guard.run(lambda: self._release(keys=[key], args=[token]), 0, what="turn")

        return Turn(held=True, waited=waited, _release=release)
