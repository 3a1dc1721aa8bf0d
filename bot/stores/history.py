"""Conversation history, deduplication and small caches in Redis; every key format lives in `Keys`.

Redis is the source of history because Slack's `conversations.replies` is rationed for distributed
apps (as low as 1 request a minute). Each conversation (a thread, or a channel's / DM's top level)
is one hash of `ts -> message JSON`: one round trip reads a whole thread, edits and deletions are a
field write, and the hash is capped (oldest dropped) and expires after the configured TTL.

All calls go through `RedisGuard`; when Redis is unavailable they return "unknown" (None/False)
and the caller falls back to Slack, so a mention is still answered.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

from bot.stores.guard import RedisGuard

MAIN = "main"


def ts_key(ts: str) -> tuple[int, int]:
    """Slack timestamps sort numerically as (seconds, micro-sequence); as floats they would collide."""
    seconds, _, frac = ts.partition(".")
    return int(seconds or 0), int(frac or 0)


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where messages live: a thread (`thread_ts`) or the top level of a channel or DM (None)."""

    team: str
    channel: str
    thread_ts: str | None = None

    @property
    def top_level(self) -> Conversation:
        return Conversation(self.team, self.channel, None)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    ts: str
    text: str
    user: str | None = None
    bot_id: str | None = None
    own: bool = False  # the bot's own answer: an `assistant` turn
    thread_ts: str | None = None

    def dumps(self) -> str:
        return json.dumps(
            {k: v for k, v in asdict(self).items() if v not in (None, False)}, ensure_ascii=False
        )

    @classmethod
    def loads(cls, raw: str) -> StoredMessage:
        data = json.loads(raw)
        return cls(
            ts=str(data["ts"]),
            text=str(data.get("text", "")),
            user=data.get("user"),
            bot_id=data.get("bot_id"),
            own=bool(data.get("own", False)),
            thread_ts=data.get("thread_ts"),
        )


@dataclass(frozen=True, slots=True)
class ThreadSnapshot:
    messages: list[StoredMessage]
    known: bool  # Redis has seen this conversation (recorded root or an earlier backfill)


class Keys:
    """The one place that spells Redis keys."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def messages(self, conv: Conversation) -> str:
        return f"{self.prefix}:msgs:{conv.team}:{conv.channel}:{conv.thread_ts or MAIN}"

    def backfilled(self, conv: Conversation) -> str:
        return f"{self.prefix}:backfilled:{conv.team}:{conv.channel}:{conv.thread_ts or MAIN}"

    def active(self, conv: Conversation) -> str:
        return f"{self.prefix}:active:{conv.team}:{conv.channel}:{conv.thread_ts or MAIN}"

    def event(self, event_id: str) -> str:
        return f"{self.prefix}:event:{event_id}"

    def user_name(self, team: str, user: str) -> str:
        return f"{self.prefix}:user:{team}:{user}"

    def channel_config(self, team: str, channel: str) -> str:
        return f"{self.prefix}:chancfg:{team}:{channel}"

    def configured_channels(self, team: str) -> str:
        return f"{self.prefix}:chancfgset:{team}"

    def answer(self, answer_id: str) -> str:
        return f"{self.prefix}:answer:{answer_id}"

    def feedback_votes(self, answer_id: str) -> str:
        return f"{self.prefix}:votes:{answer_id}"

    def feedback_log(self, team: str) -> str:
        return f"{self.prefix}:feedback:{team}"

    def feedback_counts(self, team: str) -> str:
        return f"{self.prefix}:feedbackcounts:{team}"

    def usage(self, team: str, user: str) -> str:
        return f"{self.prefix}:usage:{team}:{user}"

    def models(self) -> str:
        return f"{self.prefix}:models"


class HistoryStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        guard: RedisGuard,
        *,
        prefix: str,
        max_messages: int,
        ttl_seconds: int,
        local_dedupe_size: int = 20_000,
    ) -> None:
        self._r = redis
        self._guard = guard
        self.keys = Keys(prefix)
        self.max_messages = max_messages
        self.ttl = ttl_seconds
        # Catches redeliveries in this process even while Redis is down (best effort).
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        self._local_dedupe_size = local_dedupe_size

    # -- deduplication -------------------------------------------------------------------------

    async def claim(self, *event_keys: str, ttl: int = 3600) -> bool:
        """True when none of `event_keys` was claimed before (in this process or, via Redis, any
        process); all are claimed either way. One round trip, since it runs before every answer."""
        if any(key in self._seen_events for key in event_keys):
            return False
        for key in event_keys:
            self._seen_events[key] = None
        while len(self._seen_events) > self._local_dedupe_size:
            self._seen_events.popitem(last=False)

        async def op() -> bool:
            async with self._r.pipeline(transaction=False) as pipe:
                for key in event_keys:
                    pipe.set(self.keys.event(key), "1", nx=True, ex=ttl)
                results = await pipe.execute()
            return all(results)

        return await self._guard.run(op, True, what="dedupe")

    # -- messages ------------------------------------------------------------------------------

    async def record(self, conv: Conversation, message: StoredMessage) -> None:
        await self.record_many(conv, [message])

    async def record_many(self, conv: Conversation, messages: Sequence[StoredMessage]) -> None:
        if not messages:
            return
        key = self.keys.messages(conv)

        async def op() -> None:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.hset(key, mapping={m.ts: m.dumps() for m in messages})
                pipe.expire(key, self.ttl)
                pipe.hlen(key)
                *_, length = await pipe.execute()
            if int(length) > self.max_messages + max(10, self.max_messages // 10):
                await self._trim(key)

        await self._guard.run(op, None, what="record")

    async def _trim(self, key: str) -> None:
        fields = [str(f) for f in await self._r.hkeys(key)]
        excess = sorted(fields, key=ts_key)[: len(fields) - self.max_messages]
        if excess:
            await self._r.hdel(key, *excess)

    async def edit(self, conv: Conversation, ts: str, text: str) -> None:
        """Apply an edit to a message we recorded; unknown messages are left alone."""
        key = self.keys.messages(conv)

        async def op() -> None:
            raw = await self._r.hget(key, ts)
            if raw is None:
                return
            old = StoredMessage.loads(str(raw))
            updated = StoredMessage(old.ts, text, old.user, old.bot_id, old.own, old.thread_ts)
            await self._r.hset(key, ts, updated.dumps())

        await self._guard.run(op, None, what="edit")

    async def delete(self, conv: Conversation, ts: str) -> None:
        await self._guard.run(lambda: self._r.hdel(self.keys.messages(conv), ts), 0, what="delete")

    async def load(self, conv: Conversation) -> ThreadSnapshot | None:
        """The conversation in order (a thread includes its root), or None when Redis is unavailable."""

        async def op() -> ThreadSnapshot:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.hgetall(self.keys.messages(conv))
                pipe.exists(self.keys.backfilled(conv))
                if conv.thread_ts is not None:
                    pipe.hget(self.keys.messages(conv.top_level), conv.thread_ts)
                results = await pipe.execute()
            found: dict[str, StoredMessage] = {ts: StoredMessage.loads(raw) for ts, raw in results[0].items()}
            root_raw = results[2] if conv.thread_ts is not None else None
            if root_raw is not None and conv.thread_ts not in found:
                found[conv.thread_ts] = StoredMessage.loads(root_raw)  # type: ignore[index]
            messages = sorted(found.values(), key=lambda m: ts_key(m.ts))
            return ThreadSnapshot(messages, known=bool(results[1]) or root_raw is not None)

        return await self._guard.run(op, None, what="load")

    async def mark_backfilled(self, conv: Conversation) -> None:
        await self._guard.run(
            lambda: self._r.set(self.keys.backfilled(conv), "1", ex=self.ttl), None, what="backfill mark"
        )

    # -- threads the bot takes part in -----------------------------------------------------------

    async def mark_active(self, conv: Conversation) -> None:
        await self._guard.run(
            lambda: self._r.set(self.keys.active(conv), "1", ex=self.ttl), None, what="mark"
        )

    async def is_active(self, conv: Conversation) -> bool:
        async def op() -> bool:
            return bool(await self._r.exists(self.keys.active(conv)))

        return await self._guard.run(op, False, what="active check")

    # -- display names -----------------------------------------------------------------------------

    async def cached_names(self, team: str, users: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(users))
        if not wanted:
            return {}

        async def op() -> dict[str, str]:
            values = await self._r.mget([self.keys.user_name(team, u) for u in wanted])
            return {u: str(v) for u, v in zip(wanted, values, strict=True) if v is not None}

        return await self._guard.run(op, {}, what="names")

    async def cache_names(self, team: str, names: dict[str, str], *, ttl: int = 86_400) -> None:
        if not names:
            return

        async def op() -> None:
            async with self._r.pipeline(transaction=False) as pipe:
                for user, name in names.items():
                    pipe.set(self.keys.user_name(team, user), name, ex=ttl)
                await pipe.execute()

        await self._guard.run(op, None, what="names")

    async def cached_value(self, key: str) -> str | None:
        async def op() -> str | None:
            value = await self._r.get(key)
            return None if value is None else str(value)

        return await self._guard.run(op, None, what="cache")

    async def cache_value(self, key: str, value: str, *, ttl: int) -> None:
        await self._guard.run(lambda: self._r.set(key, value, ex=ttl), None, what="cache")

    async def ping(self) -> bool:
        async def op() -> bool:
            return bool(await self._r.ping())

        return await self._guard.run(op, False, what="ping")
