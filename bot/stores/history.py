"""Conversation history in Redis: what people said, as the bot saw it arrive.

Redis is the source of history because Slack's `conversations.replies` is rationed for distributed
apps (as low as 1 request a minute). Each conversation (a thread, or a channel's / DM's top level)
is one hash of `ts -> message JSON`: one round trip reads a whole thread, edits and deletions are a
field write, and the hash is capped (oldest dropped) and expires after the configured TTL. A
message's text is capped too (`max_message_chars`, cut in the middle with a marker): one pasted
log must not cost Redis memory, and every later prompt its budget, many times over.

All calls go through `RedisGuard`; when Redis is unavailable they return "unknown" (None) and the
caller falls back to Slack, so a mention is still answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import redis.asyncio as aioredis

from bot.model import Conversation, FileRef, StoredMessage, order_key, ts_key
from bot.stores.guard import RedisGuard
from bot.text.prompt import trim_middle


@dataclass(frozen=True, slots=True)
class ThreadSnapshot:
    messages: list[StoredMessage]
    known: bool  # Redis has seen this conversation (recorded root or an earlier backfill)


class HistoryStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        guard: RedisGuard,
        *,
        prefix: str,
        max_messages: int,
        ttl_seconds: int,
        max_message_chars: int = 40_000,
    ) -> None:
        self._r = redis
        self._guard = guard
        self._prefix = prefix
        self.max_messages = max_messages
        self.ttl = ttl_seconds
        self.max_message_chars = max_message_chars

    def messages_key(self, conv: Conversation) -> str:
        return f"{self._prefix}:msgs:{conv.id}"

    def _backfilled_key(self, conv: Conversation) -> str:
        return f"{self._prefix}:backfilled:{conv.id}"

    async def record(self, conv: Conversation, message: StoredMessage) -> None:
        await self.record_many(conv, [message])

    async def record_many(self, conv: Conversation, messages: Sequence[StoredMessage]) -> None:
        if not messages:
            return
        key = self.messages_key(conv)

        async def op() -> None:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.hset(key, mapping={m.ts: self._capped(m).dumps() for m in messages})
                pipe.expire(key, self.ttl)
                pipe.hlen(key)
                *_, length = await pipe.execute()
            if int(length) > self.max_messages + max(10, self.max_messages // 10):
                await self._trim(key)

        await self._guard.run(op, None, what="record")

    def _capped(self, message: StoredMessage) -> StoredMessage:
        if len(message.text) <= self.max_message_chars:
            return message
        return replace(message, text=trim_middle(message.text, self.max_message_chars))

    async def _trim(self, key: str) -> None:
        fields = [str(f) for f in await self._r.hkeys(key)]
        excess = sorted(fields, key=ts_key)[: len(fields) - self.max_messages]
        if excess:
            await self._r.hdel(key, *excess)

    async def edit(
        self, conv: Conversation, ts: str, text: str, files: tuple[FileRef, ...] | None = None
    ) -> None:
        """Apply an edit to a message we recorded (its files too, when given); unknown messages
        are left alone."""
        key = self.messages_key(conv)

        async def op() -> None:
            raw = await self._r.hget(key, ts)
            if raw is None:
                return
            kept = StoredMessage.loads(str(raw))
            updated = replace(kept, text=text, files=kept.files if files is None else files)
            await self._r.hset(key, ts, self._capped(updated).dumps())

        await self._guard.run(op, None, what="edit")

    async def delete(self, conv: Conversation, ts: str) -> None:
        await self._guard.run(lambda: self._r.hdel(self.messages_key(conv), ts), 0, what="delete")

    async def load(self, conv: Conversation) -> ThreadSnapshot | None:
        """The conversation in order (`order_key`; a thread includes its root), or None when Redis is
        unavailable."""

        async def op() -> ThreadSnapshot:
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.hgetall(self.messages_key(conv))
                pipe.exists(self._backfilled_key(conv))
                if conv.thread_ts is not None:
                    pipe.hget(self.messages_key(conv.top_level), conv.thread_ts)
                results = await pipe.execute()
            found: dict[str, StoredMessage] = {ts: StoredMessage.loads(raw) for ts, raw in results[0].items()}
            root_raw = results[2] if conv.thread_ts is not None else None
            if root_raw is not None and conv.thread_ts not in found:
                found[conv.thread_ts] = StoredMessage.loads(root_raw)  # type: ignore[index]
            messages = sorted(found.values(), key=order_key)
            return ThreadSnapshot(messages, known=bool(results[1]) or root_raw is not None)

        return await self._guard.run(op, None, what="load")

    async def mark_backfilled(self, conv: Conversation) -> None:
        await self._guard.run(
            lambda: self._r.set(self._backfilled_key(conv), "1", ex=self.ttl), None, what="backfill mark"
        )
