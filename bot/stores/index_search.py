"""The knowledge index on the Redis Query Engine (RediSearch: Redis 8, Redis Stack, or the
`redis-redisearch` module), for servers that have it (see bot.stores.search_engine).

One hash per thread is the engine's document: `kxd:{team}:{channel}:{thread_ts}` with `team` and
`channel` (TAG), `body` (TEXT: the thread's words) and `last` (NUMERIC: its last write). The words
are ours (bot.text.terms: the same stop words and stemmer as `PlainIndex`), so the field is
NOSTEM and the index has no stop words of its own. Beside it, `kxw:{team}:{channel}:{thread_ts}`
keeps each message's words (ts -> words), so an edit or a deletion takes back exactly that
message; `kxn:{team}` counts the team's threads, their words and the threads each word is in
(BM25's N, average length and document frequencies: one HMGET at search time, where counting
with the engine took tens of milliseconds); `kxc:{team}` is the set of channels indexed. One Lua
script rewrites a message, rebuilds the body, updates the counts and (engine 1.x) re-indexes
the document, atomically, so two replicas writing to one thread never lose each other's words.

The engine finds candidates; our BM25 (bot.stores.index.bm25) ranks them, so both backends
rank alike. Engines 2 and later (Redis Stack, Redis 8) index every hash under the document
prefix by themselves (FT.CREATE ... ON HASH PREFIX); engine 1.x (RediSearch 1.2, the Debian
module) indexes a hash only when told (FT.ADDHASH ... REPLACE), forgets it only on FT.DEL, and
keeps its own keys named after the index (`idx:`, `ft:`, `nm:`, `tag:` + the index name, which
carries our prefix). For both, a sweep per team drops threads the TTL after their last write
(through the same script, so the counts stay exact), searches skip older threads the sweep has
not reached yet, and every key also expires at twice the TTL, a safety net for a team nobody
writes to any more.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from itertools import combinations
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from bot.model import Conversation, StoredMessage
from bot.stores.guard import RedisGuard
from bot.stores.index import Hit, bm25, idf
from bot.stores.scripts import Script
from bot.stores.search_engine import command
from bot.text.terms import query_terms, terms

log = logging.getLogger(__name__)
T = TypeVar("T")

PRUNE_EVERY = 60.0  # seconds between expiry sweeps of one team (per process)
PRUNE_BATCH = 50
PAIR_WORDS = 4  # the rarest words of a question whose pairs find candidates (both in one thread)
PAIR_CANDIDATES = 50  # the engine's best threads per pair
UNION_CANDIDATES = 50  # and for any of the words, so a thread with one of them can still be found
SCORER = "BM25"  # orders the engine's candidates only (in every version; Redis 8.4 also calls it BM25STD)
SCAN_CHECKS, SCAN_PAUSE = 100, 0.02  # how long a new index may take in what is there (2 s)
MISSING_INDEX = ("unknown index", "no such index", "index not found")  # 1.x, 2.x, Redis 8.0, 8.10
THREADS, LENGTH = "_n", "_len"  # the team's counts beside the words' (words never contain "_")

# KEYS: the thread's messages' words, the document, the team's channels, the team's counts
# (word -> threads with it, and THREADS, LENGTH). ARGV: ts ('' drops the whole thread), words
# ('' takes the message back), only if known ('1'), team, channel, now, ttl, the index name on
# engine 1.x ('' when the engine indexes by itself).
_WRITE = """
if ARGV[1] == '' then
  redis.call('DEL', KEYS[1])
elseif ARGV[3] == '1' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return -1
elseif ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local function distinct(text)
  local set, n = {}, 0
  for w in string.gmatch(text or '', '%S+') do set[w] = true; n = n + 1 end
  return set, n
end
local old = redis.call('HGET', KEYS[2], 'body')
local words = redis.call('HVALS', KEYS[1])
local body = table.concat(words, ' ')
local before, old_len = distinct(old)
local after, new_len = distinct(body)
for w in pairs(before) do
  if not after[w] and redis.call('HINCRBY', KEYS[4], w, -1) <= 0 then redis.call('HDEL', KEYS[4], w) end
end
for w in pairs(after) do
  if not before[w] then redis.call('HINCRBY', KEYS[4], w, 1) end
end
redis.call('HINCRBY', KEYS[4], '_len', new_len - old_len)
if #words == 0 then
  if old then
    redis.call('HINCRBY', KEYS[4], '_n', -1)
    if ARGV[8] ~= '' then redis.call('FT.DEL', ARGV[8], KEYS[2]) end
  end
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
if not old then redis.call('HINCRBY', KEYS[4], '_n', 1) end
if ARGV[2] == '' then
  redis.call('HSET', KEYS[2], 'body', body)
else
  redis.call('HSET', KEYS[2], 'team', ARGV[4], 'channel', ARGV[5], 'body', body, 'last', ARGV[6])
  for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[7]) end
  redis.call('SADD', KEYS[3], ARGV[5])
end
if ARGV[8] ~= '' then redis.call('FT.ADDHASH', ARGV[8], KEYS[2], '1.0', 'REPLACE') end
return #words
"""

_SPECIAL = re.compile(r"(\W)")  # the query syntax's punctuation (and spaces), escaped


def escape(value: str) -> str:
    """`value` as one literal word or tag in a query (`T-1` → `T\\-1`)."""
    return _SPECIAL.sub(r"\\\1", value)


def found_ids(reply: Any) -> list[str]:
    """The document ids of an FT.SEARCH ... NOCONTENT reply: a list (RESP2, and engine 1.x
    always) or, from engine 2.8 on under RESP3 (redis-py's default), a map of `results`."""
    if isinstance(reply, dict):
        return [str(r["id"]) for r in reply.get("results", ())]
    return [str(d) for d in reply[1:]]


def _missing(exc: ResponseError) -> bool:
    text = str(exc).lower()
    return any(m in text for m in MISSING_INDEX)


class SearchIndex:
    def __init__(
        self,
        redis: aioredis.Redis,
        guard: RedisGuard,
        *,
        prefix: str,
        ttl_seconds: int,
        engine: int,
        channels: Collection[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`engine` is the Query Engine's major version (bot.stores.search_engine.detect)."""
        self._r = redis
        self._guard = guard
        self.name = f"{prefix}:kx-ft"
        self._docs = f"{prefix}:kxd:"
        self._words = f"{prefix}:kxw:"
        self._chans = f"{prefix}:kxc:"
        self._counts = f"{prefix}:kxn:"
        self.ttl = ttl_seconds
        self.engine = engine
        self._only = frozenset(channels)  # empty: every channel the bot is in
        self._clock = clock
        self._write = Script(redis, _WRITE)
        self._pruned: dict[str, float] = {}

    @property
    def _indexes_itself(self) -> bool:
        return self.engine >= 2

    def doc_key(self, team: str, channel: str, thread: str) -> str:
        return f"{self._docs}{team}:{channel}:{thread}"

    def key_patterns(self) -> list[str]:
        """Every key this index writes (engine 1.x adds its own, named after `name`)."""
        ours = [f"{p}*" for p in (self._docs, self._words, self._chans, self._counts)]
        if self._indexes_itself:
            return ours
        return [*ours, *(f"{kind}:{self.name}*" for kind in ("idx", "ft", "nm", "tag"))]

    async def prepare(self) -> None:
        """Create the index unless it is there (another replica may have made it first)."""
        where = ["ON", "HASH", "PREFIX", "1", self._docs, "NOHL"] if self._indexes_itself else []
        try:
            await command(
                self._r, "FT.CREATE", self.name, *where, "NOOFFSETS", "NOFIELDS", "STOPWORDS", "0",
                "SCHEMA", "team", "TAG", "channel", "TAG", "body", "TEXT", "NOSTEM", "last", "NUMERIC",
            )  # fmt: skip
        except ResponseError as exc:
            if "already exists" not in str(exc).lower():
                raise
            return
        log.info("created the knowledge search index %s (Query Engine %d.x)", self.name, self.engine)
        if self._indexes_itself:
            await self._scanned()

    async def _scanned(self) -> None:
        """Wait (a bounded while) for a new index to take in the documents already there: an
        engine 2+ index made after a flush of the index alone finds them in the background."""
        for _ in range(SCAN_CHECKS):
            info = await command(self._r, "FT.INFO", self.name)
            fields = info if isinstance(info, dict) else dict(zip(info[::2], info[1::2], strict=False))
            if not int(float(fields.get("indexing", 0) or 0)):
                return
            await asyncio.sleep(SCAN_PAUSE)

    async def drop(self) -> None:
        """Remove the index and everything it wrote (tests and benchmarks clean up with it)."""
        try:
            if self._indexes_itself:
                await command(self._r, "FT.DROPINDEX", self.name, "DD")
            else:
                await command(self._r, "FT.DROP", self.name)
        except ResponseError as exc:
            if not _missing(exc):
                raise
        for pattern in (f"{p}*" for p in (self._docs, self._words, self._chans, self._counts)):
            keys = [key async for key in self._r.scan_iter(match=pattern, count=1000)]
            if keys:
                await self._r.delete(*keys)

    async def _healing(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call`, run again once after creating the index if the server lost it (a restart
        without persistence, a flush)."""
        try:
            return await call()
        except ResponseError as exc:
            if not _missing(exc):
                raise
        await self.prepare()
        return await call()

    async def _ft(self, *args: str | int | float) -> Any:
        """An FT command on our index."""
        return await self._healing(lambda: command(self._r, args[0], self.name, *args[1:]))

    def indexes(self, channel: str) -> bool:
        return not self._only or channel in self._only

    async def index_message(self, conv: Conversation, message: StoredMessage) -> None:
        if message.own or not self.indexes(conv.channel):
            return
        await self._put(conv, message.ts, " ".join(terms(message.text)), only_if_known=False)

    async def edit(self, conv: Conversation, ts: str, text: str) -> None:
        if self.indexes(conv.channel):
            await self._put(conv, ts, " ".join(terms(text)), only_if_known=True)

    async def remove(self, conv: Conversation, ts: str) -> None:
        if self.indexes(conv.channel):
            await self._put(conv, ts, "", only_if_known=True)

    async def _put(self, conv: Conversation, ts: str, words: str, *, only_if_known: bool) -> None:
        team, thread = conv.team, conv.thread_ts or ts

        async def op() -> None:
            await self._apply(team, conv.channel, thread, ts, words, only_if_known=only_if_known)
            if words:
                await self._maybe_prune(team)

        await self._guard.run(op, None, what="index")

    async def _apply(
        self, team: str, channel: str, thread: str, ts: str, words: str, *, only_if_known: bool
    ) -> None:
        """Run the write script (ts '' drops the thread); keys live twice the TTL, a safety net
        behind the sweep, which drops threads at the TTL and keeps the team's counts exact."""
        where = f"{team}:{channel}:{thread}"
        keys = [self._words + where, self._docs + where, self._chans + team, self._counts + team]
        engine_index = "" if self._indexes_itself else self.name
        args: list[str | int | float] = [
            ts, words, int(only_if_known), team, channel, self._clock(), 2 * self.ttl, engine_index,
        ]  # fmt: skip
        await self._healing(lambda: self._write(keys=keys, args=args))

    async def _maybe_prune(self, team: str) -> None:
        now = self._clock()
        if now - self._pruned.get(team, float("-inf")) < PRUNE_EVERY:
            return
        self._pruned[team] = now
        await self.prune(team)

    async def prune(self, team: str) -> int:
        """Delete threads whose last message is older than the history TTL; how many went."""
        cutoff = self._clock() - self.ttl
        query = f"@team:{{{escape(team)}}} @last:[-inf {cutoff:.3f}]"
        found = await self._ft("FT.SEARCH", query, "NOCONTENT", "LIMIT", 0, PRUNE_BATCH)
        stale = found_ids(found)
        for doc in stale:
            team_, channel, thread = doc.removeprefix(self._docs).split(":", 2)
            await self._apply(team_, channel, thread, "", "", only_if_known=False)
        return len(stale)

    async def channels(self, team: str) -> list[str]:
        async def op() -> list[str]:
            return sorted(str(c) for c in await self._r.smembers(self._chans + team))

        return await self._guard.run(op, [], what="index channels")

    async def search(
        self, team: str, query: str, *, channels: Sequence[str] | None = None, limit: int = 10
    ) -> list[Hit]:
        words = query_terms(query)
        if not words or (channels is not None and not channels) or limit <= 0:
            return []
        where = f"@team:{{{escape(team)}}}"
        if channels is not None:
            where += " @channel:{" + "|".join(escape(c) for c in channels) + "}"

        async def op() -> list[Hit]:
            return await self._search(team, where, words, limit)

        return await self._guard.run(op, [], what="index search")

    async def _search(self, team: str, where: str, words: list[str], limit: int) -> list[Hit]:
        """Three round trips, as in PlainIndex: the team's counts (threads, their length, the
        threads with each word); the engine's best threads for each pair of the rarer words
        and for any word, which are the candidates; the candidates' words and age, scored by
        our BM25 (bot.stores.index.bm25). The engine only finds: RediSearch 1.2's BM25 ignores
        a thread's length and returns ties in any order, so its ranking alone loses threads
        ours finds."""
        counts = await self._r.hmget(self._counts + team, [THREADS, LENGTH, *words])
        threads, length = int(counts[0] or 0), int(counts[1] or 0)
        df = {w: int(n) for w, n in zip(words, counts[2:], strict=True) if n and int(n) > 0}
        present = sorted(df, key=lambda w: df[w])
        if not present or threads <= 0:
            return []
        asked = [f"({escape(a)} {escape(b)})" for a, b in combinations(present[:PAIR_WORDS], 2)]
        asked.append("(" + "|".join(escape(w) for w in present) + ")")

        async def candidates() -> list[Any]:
            async with self._r.pipeline(transaction=False) as pipe:
                for i, words_query in enumerate(asked):
                    n = UNION_CANDIDATES if i == len(asked) - 1 else PAIR_CANDIDATES
                    pipe.execute_command(
                        "FT.SEARCH", self.name, f"{where} {words_query}",
                        "NOCONTENT", "SCORER", SCORER, "LIMIT", 0, max(n, limit),
                    )  # fmt: skip
                return await pipe.execute()

        found = await self._healing(candidates)
        docs = list(dict.fromkeys(d for reply in found for d in found_ids(reply)))
        async with self._r.pipeline(transaction=False) as pipe:
            for doc in docs:
                pipe.hmget(doc, ["body", "last"])
            stored = await pipe.execute()
        cutoff = self._clock() - self.ttl
        idfs = {w: idf(threads, df[w]) for w in present}
        average = length / threads
        hits = []
        for doc, (body, last) in zip(docs, stored, strict=True):
            if body is None or float(last or 0) <= cutoff:
                continue  # expired (the sweep has not reached it yet) or deleted in between
            thread_words = str(body).split()
            tfs = {w: float(n) for w, n in Counter(t for t in thread_words if t in idfs).items()}
            team_, channel, thread = doc.removeprefix(self._docs).split(":", 2)
            hits.append(Hit(team_, channel, thread, bm25(tfs, idfs, len(thread_words), average)))
        hits.sort(key=lambda h: (-h.score, h.channel, h.thread_ts))
        return hits[:limit]
