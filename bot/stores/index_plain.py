"""The knowledge index on plain Redis data structures (any Redis 7; see bot.stores.index for the
interface and bot.stores.index_search for the Query Engine's).

Plain Redis 7 has no search module, so the index is built from its data structures, all scoped by
team and channel (a search then reads only the channels the caller passes):
- `kx:t:{team}:{channel}:{term}` hash, thread_ts -> term frequency in that thread (a hash, not a
  sorted set: a fifth of the memory in bench/knowledge, and nothing needs the postings in order);
- `kx:len:{team}:{channel}` hash, thread_ts -> the thread's length in terms (BM25's |d|), and the
  channel's total under `_total` (for the average length);
- `kx:m:{team}:{channel}:{thread_ts}` hash, ts -> the message's terms, so an edit or a deletion
  takes back exactly what the message added;
- `kx:age:{team}:{channel}` sorted set, thread_ts -> last write: a thread leaves the index the
  history TTL after its last message, as its history does;
- `kx:chans:{team}` set of the channels indexed.
Scoring is BM25 (document frequency is the length of the term's postings). Keys also get a TTL of twice
the history TTL, refreshed on writes, so a channel nobody writes to any more goes away whole.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence

import redis.asyncio as aioredis

from bot.model import Conversation, StoredMessage
from bot.stores.guard import RedisGuard
from bot.stores.index import K1, Hit, bm25, idf
from bot.text.terms import query_terms, term_counts

POSTINGS_PER_TERM = 400  # a term in at most this many threads counts as rare, however many there are
CANDIDATES = 200  # threads scored in full (common terms, lengths) after the rare terms' pass
RARE_FRACTION = 0.02  # terms in more of the threads searched are only scored, not used to find
TOTAL = "_total"
PRUNE_EVERY = 60.0  # seconds between expiry sweeps of one channel (per process)
PRUNE_BATCH = 50


# A term's frequency in a thread goes down on an edit or deletion; at zero the thread leaves the
# term's postings, in the same step (so a concurrent write to the thread is never lost).
_TAKE_BACK = """
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
"""


def _encode(counts: Counter[str]) -> str:
    return " ".join(f"{t}:{n}" if n > 1 else t for t, n in counts.items())


def _decode(raw: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for item in raw.split():
        term, _, n = item.rpartition(":") if ":" in item else (item, "", "1")
        counts[term] += int(n or 1)
    return counts


class PlainIndex:
    def __init__(
        self,
        redis: aioredis.Redis,
        guard: RedisGuard,
        *,
        prefix: str,
        ttl_seconds: int,
        channels: Collection[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._r = redis
        self._guard = guard
        self._p = f"{prefix}:kx"
        self.ttl = ttl_seconds
        self._only = frozenset(channels)  # empty: every channel the bot is in
        self._clock = clock
        self._pruned: dict[tuple[str, str], float] = {}

    async def prepare(self) -> None:
        """Nothing to create: the keys appear with the first message."""

    def indexes(self, channel: str) -> bool:
        return not self._only or channel in self._only

    def _term_key(self, team: str, channel: str, term: str) -> str:
        return f"{self._p}:t:{team}:{channel}:{term}"

    def _len_key(self, team: str, channel: str) -> str:
        return f"{self._p}:len:{team}:{channel}"

    def _msgs_key(self, team: str, channel: str, thread: str) -> str:
        return f"{self._p}:m:{team}:{channel}:{thread}"

    def _age_key(self, team: str, channel: str) -> str:
        return f"{self._p}:age:{team}:{channel}"

    def _chans_key(self, team: str) -> str:
        return f"{self._p}:chans:{team}"

    def keys_pattern(self) -> str:
        return f"{self._p}:*"

    @staticmethod
    def _thread_of(conv: Conversation, ts: str) -> str:
        return conv.thread_ts or ts

    async def index_message(self, conv: Conversation, message: StoredMessage) -> None:
        """Add (or replace) one message; the bot's own answers are not sources."""
        if message.own or not self.indexes(conv.channel):
            return
        await self._put(conv, message.ts, message.text)

    async def edit(self, conv: Conversation, ts: str, text: str) -> None:
        if self.indexes(conv.channel):
            await self._put(conv, ts, text, only_if_known=True)

    async def remove(self, conv: Conversation, ts: str) -> None:
        if not self.indexes(conv.channel):
            return
        thread = self._thread_of(conv, ts)

        async def op() -> None:
            # Only this message goes: a deleted root's replies are still there in Slack.
            await self._apply(conv.team, conv.channel, thread, ts, Counter(), only_if_known=True)
            if not await self._r.exists(self._msgs_key(conv.team, conv.channel, thread)):
                await self._drop_thread(conv.team, conv.channel, thread)

        await self._guard.run(op, None, what="index delete")

    async def _put(self, conv: Conversation, ts: str, text: str, *, only_if_known: bool = False) -> None:
        thread = self._thread_of(conv, ts)
        counts = term_counts(text)

        async def op() -> None:
            await self._apply(conv.team, conv.channel, thread, ts, counts, only_if_known=only_if_known)
            await self._maybe_prune(conv.team, conv.channel)

        await self._guard.run(op, None, what="index")

    async def _apply(
        self, team: str, channel: str, thread: str, ts: str, new: Counter[str], *, only_if_known: bool
    ) -> None:
        """Replace message `ts`'s contribution to `thread` with `new` (empty: take it back)."""
        msgs = self._msgs_key(team, channel, thread)
        raw = await self._r.hget(msgs, ts)
        if raw is None and only_if_known:
            return
        old = _decode(str(raw)) if raw is not None else Counter()
        delta = Counter(new)
        delta.subtract(old)
        length_change = sum(new.values()) - sum(old.values())
        keep = 2 * self.ttl
        lengths = self._len_key(team, channel)
        async with self._r.pipeline(transaction=True) as pipe:
            for term, change in delta.items():
                if change == 0:
                    continue
                key = self._term_key(team, channel, term)
                if change < 0:
                    pipe.eval(_TAKE_BACK, 1, key, thread, change)
                else:
                    pipe.hincrby(key, thread, change)
                    pipe.expire(key, keep)
            if new:
                pipe.hset(msgs, ts, _encode(new))
            else:
                pipe.hdel(msgs, ts)
            pipe.expire(msgs, keep)
            if length_change:
                pipe.hincrby(lengths, thread, length_change)
                pipe.hincrby(lengths, TOTAL, length_change)
            pipe.expire(lengths, keep)
            if new:
                pipe.zadd(self._age_key(team, channel), {thread: self._clock()})
                pipe.expire(self._age_key(team, channel), keep)
                pipe.sadd(self._chans_key(team), channel)
                pipe.expire(self._chans_key(team), keep)
            await pipe.execute()

    async def _drop_thread(self, team: str, channel: str, thread: str) -> None:
        msgs = self._msgs_key(team, channel, thread)
        stored = await self._r.hgetall(msgs)
        total: Counter[str] = Counter()
        for raw in stored.values():
            total.update(_decode(str(raw)))
        async with self._r.pipeline(transaction=True) as pipe:
            for term in total:
                pipe.hdel(self._term_key(team, channel, term), thread)
            pipe.delete(msgs)
            pipe.hincrby(self._len_key(team, channel), TOTAL, -sum(total.values()))
            pipe.hdel(self._len_key(team, channel), thread)
            pipe.zrem(self._age_key(team, channel), thread)
            await pipe.execute()

    async def _maybe_prune(self, team: str, channel: str) -> None:
        now = self._clock()
        if now - self._pruned.get((team, channel), float("-inf")) < PRUNE_EVERY:
            return
        self._pruned[(team, channel)] = now
        await self.prune(team, channel)

    async def prune(self, team: str, channel: str) -> int:
        """Drop threads whose last message is older than the history TTL; how many went."""
        cutoff = self._clock() - self.ttl
        stale = await self._r.zrangebyscore(self._age_key(team, channel), "-inf", cutoff, 0, PRUNE_BATCH)
        for thread in stale:
            await self._drop_thread(team, channel, str(thread))
        return len(stale)

    async def channels(self, team: str) -> list[str]:
        async def op() -> list[str]:
            return sorted(str(c) for c in await self._r.smembers(self._chans_key(team)))

        return await self._guard.run(op, [], what="index channels")

    async def search(
        self, team: str, query: str, *, channels: Sequence[str] | None = None, limit: int = 10
    ) -> list[Hit]:
        """The best-matching threads in `channels` (None: every indexed channel), best first."""
        words = query_terms(query)
        if not words:
            return []

        async def op() -> list[Hit]:
            where = list(channels) if channels is not None else await self.channels(team)
            if not where:
                return []
            return await self._search(team, words, where, limit)

        return await self._guard.run(op, [], what="index search")

    async def _search(self, team: str, words: list[str], where: list[str], limit: int) -> list[Hit]:
        """Two round trips, then a third: sizes (document frequencies, lengths); the postings of
        the rarer terms, which find the candidates; the common terms' frequencies for those
        candidates only. A term in most threads adds little to BM25, so reading all its
        postings would cost more than it tells."""
        async with self._r.pipeline(transaction=False) as pipe:
            for channel in where:
                pipe.hlen(self._len_key(team, channel))
                pipe.hget(self._len_key(team, channel), TOTAL)
                for term in words:
                    pipe.hlen(self._term_key(team, channel, term))
            sizes = await pipe.execute()
        docs = tokens = 0
        df: Counter[str] = Counter()
        per_channel: dict[tuple[str, str], int] = {}
        i = 0
        for channel in where:
            count, total = int(sizes[i]), int(sizes[i + 1] or 0)
            docs += max(count - (1 if total else 0), 0)
            tokens += total
            i += 2
            for term in words:
                per_channel[(channel, term)] = n = int(sizes[i])
                df[term] += n
                i += 1
        present = [t for t in words if df[t]]
        if not present or docs <= 0:
            return []
        ordered = sorted(present, key=lambda t: df[t])
        rare = [t for t in ordered if df[t] <= max(RARE_FRACTION * docs, POSTINGS_PER_TERM)] or ordered[:1]
        common = [t for t in present if t not in rare]
        postings: dict[tuple[str, str], dict[str, float]] = {}  # (channel, thread) -> term -> tf
        async with self._r.pipeline(transaction=False) as pipe:
            asked = [(c, t) for c in where for t in rare if per_channel[(c, t)]]
            for channel, term in asked:
                pipe.hgetall(self._term_key(team, channel, term))
            for (channel, term), found in zip(asked, await pipe.execute(), strict=True):
                for thread, tf in found.items():
                    postings.setdefault((channel, str(thread)), {})[term] = float(tf)
        if not postings:
            return []
        idfs = {t: idf(docs, df[t]) for t in present}
        if len(postings) > CANDIDATES:
            # Keep the best by the rare terms alone before reading anything more about them.
            def partial(tfs: dict[str, float]) -> float:
                return sum(idfs[t] * tf / (tf + K1) for t, tf in tfs.items())

            best = sorted(postings, key=lambda k: -partial(postings[k]))[:CANDIDATES]
            postings = {k: postings[k] for k in best}
        await self._common_frequencies(team, common, per_channel, postings)
        avgdl = max(tokens / docs, 1.0)
        lengths = await self._lengths(team, list(postings))
        hits = []
        for (channel, thread), tfs in postings.items():
            dl = lengths.get((channel, thread), avgdl)
            hits.append(Hit(team, channel, thread, bm25(tfs, idfs, dl, avgdl)))
        hits.sort(key=lambda h: (-h.score, h.channel, h.thread_ts))
        return hits[:limit]

    async def _common_frequencies(
        self,
        team: str,
        common: list[str],
        per_channel: dict[tuple[str, str], int],
        postings: dict[tuple[str, str], dict[str, float]],
    ) -> None:
        """Fill in the common terms' frequencies for the candidates found by the rare ones."""
        by_channel: dict[str, list[str]] = {}
        for channel, thread in postings:
            by_channel.setdefault(channel, []).append(thread)
        asked = [(c, t) for c in by_channel for t in common if per_channel[(c, t)]]
        if not asked:
            return
        async with self._r.pipeline(transaction=False) as pipe:
            for channel, term in asked:
                pipe.hmget(self._term_key(team, channel, term), by_channel[channel])
            results = await pipe.execute()
        for (channel, term), scores in zip(asked, results, strict=True):
            for thread, tf in zip(by_channel[channel], scores, strict=True):
                if tf is not None:
                    postings[(channel, thread)][term] = float(tf)

    async def _lengths(self, team: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], float]:
        by_channel: dict[str, list[str]] = {}
        for channel, thread in keys:
            by_channel.setdefault(channel, []).append(thread)
        async with self._r.pipeline(transaction=False) as pipe:
            for channel, threads in by_channel.items():
                pipe.hmget(self._len_key(team, channel), threads)
            results = await pipe.execute()
        out: dict[tuple[str, str], float] = {}
        for (channel, threads), values in zip(by_channel.items(), results, strict=True):
            for thread, value in zip(threads, values, strict=True):
                if value is not None:
                    out[(channel, thread)] = float(value)
        return out
