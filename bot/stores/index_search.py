"""The knowledge index on the Redis Query Engine (RediSearch: Redis 8, Redis Stack, or the
`redis-redisearch` module), for servers that have it (see bot.stores.search_engine).

One hash per thread is the engine's document: `kxd:{team}:{channel}:{thread_ts}` with `team` and
`channel` (TAG), `body` (TEXT: the thread's words) and `last` (NUMERIC: its last write). The words
are ours (bot.text.terms: the same stop words and stemmer as `PlainIndex`), so the field is
NOSTEM and the index has no stop words of its own: both backends find the same threads for the
same question, and the engine only stores and ranks (SCORER BM25). Beside it,
`kxw:{team}:{channel}:{thread_ts}` keeps each message's words (ts -> words), so an edit or a
deletion takes back exactly that message: one Lua script rewrites the message, rebuilds the
body from all of them and (engine 1.x) re-indexes the document, atomically, so two replicas
writing to one thread never lose each other's words. `kxc:{team}` is the set of the channels
indexed.

Engines 2 and later (Redis Stack, Redis 8) index every hash under the document prefix by
themselves (FT.CREATE ... ON HASH PREFIX): a write is HSET, a deletion DEL, and an expired key
leaves the index on its own. Engine 1.x (RediSearch 1.2, the Debian module) indexes a hash only
when told (FT.ADDHASH ... REPLACE) and forgets it only on FT.DEL, and keeps its own keys named
after the index (`idx:`, `ft:`, `nm:`, `tag:` + the index name, which carries our prefix).
For both, a search reads only threads whose last write is within the TTL (`@last` range), and a
sweep per team deletes older ones: exact expiry whatever the engine does with expired keys.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from bot.model import Conversation, StoredMessage
from bot.stores.guard import RedisGuard
from bot.stores.index import Hit, bm25, idf
from bot.stores.scripts import Script
from bot.stores.search_engine import command
from bot.text.terms import query_terms, terms

log = logging.getLogger(__name__)

PRUNE_EVERY = 60.0  # seconds between expiry sweeps of one team (per process)
PRUNE_BATCH = 50
CANDIDATES = 200  # the engine's best threads for the rarer words, scored again by our BM25
POSTINGS_PER_TERM = 400  # as PlainIndex: a word in at most this many threads counts as rare,
RARE_FRACTION = 0.02  # and one in more than this share of them only adds to the score
AVERAGE_EVERY = 60.0  # seconds the team's average thread length is reused
MISSING_INDEX = ("unknown index", "no such index", "index not found")  # 1.x, 2.x, Redis 8.0, 8.10

# KEYS: words of the thread's messages, the document, the team's channels.
# ARGV: ts, words ('' takes the message back), only if known ('1'), team, channel, now, ttl,
# the channels' ttl, the index name on engine 1.x ('' when the engine indexes by itself).
_WRITE = """
if ARGV[3] == '1' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -1 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local words = redis.call('HVALS', KEYS[1])
if #words == 0 then
  if ARGV[9] ~= '' then redis.call('FT.DEL', ARGV[9], KEYS[2]) end
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
local body = table.concat(words, ' ')
local len = 0
for _ in string.gmatch(body, '%S+') do len = len + 1 end
if ARGV[2] == '' then
  redis.call('HSET', KEYS[2], 'body', body, 'len', len)
else
  redis.call('HSET', KEYS[2], 'team', ARGV[4], 'channel', ARGV[5], 'body', body, 'len', len, 'last', ARGV[6])
  redis.call('EXPIRE', KEYS[1], ARGV[7])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
  redis.call('SADD', KEYS[3], ARGV[5])
  redis.call('EXPIRE', KEYS[3], ARGV[8])
end
if ARGV[9] ~= '' then redis.call('FT.ADDHASH', ARGV[9], KEYS[2], '1.0', 'REPLACE') end
return #words
"""

_SPECIAL = re.compile(r"(\W)")  # the query syntax's punctuation (and spaces), escaped


def escape(value: str) -> str:
    """`value` as one literal word or tag in a query (`T-1` → `T\\-1`)."""
    return _SPECIAL.sub(r"\\\1", value)


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
        self.ttl = ttl_seconds
        self.engine = engine
        self._only = frozenset(channels)  # empty: every channel the bot is in
        self._clock = clock
        self._write = Script(redis, _WRITE)
        self._pruned: dict[str, float] = {}
        self.scorer = "BM25"  # finds the candidates; our BM25 (bot.stores.index.bm25) ranks them
        self._averages: dict[str, tuple[float, float]] = {}

    @property
    def _indexes_itself(self) -> bool:
        return self.engine >= 2

    def doc_key(self, team: str, channel: str, thread: str) -> str:
        return f"{self._docs}{team}:{channel}:{thread}"

    def key_patterns(self) -> list[str]:
        """Every key this index writes (engine 1.x adds its own, named after `name`)."""
        ours = [f"{self._docs}*", f"{self._words}*", f"{self._chans}*"]
        if self._indexes_itself:
            return ours
        return [*ours, *(f"{kind}:{self.name}*" for kind in ("idx", "ft", "nm", "tag"))]

    async def prepare(self) -> None:
        """Create the index unless it is there (another replica may have made it first)."""
        where = ["ON", "HASH", "PREFIX", "1", self._docs, "NOHL"] if self._indexes_itself else []
        try:
            await command(self._r, 
                "FT.CREATE", self.name, *where, "NOOFFSETS", "NOFIELDS", "STOPWORDS", "0",
                "SCHEMA", "team", "TAG", "channel", "TAG", "body", "TEXT", "NOSTEM",
                "len", "NUMERIC", "SORTABLE", "last", "NUMERIC",
            )  # fmt: skip
        except ResponseError as exc:
            if "already exists" not in str(exc).lower():
                raise
            return
        log.info("created the knowledge search index %s (Query Engine %d.x)", self.name, self.engine)

    async def drop(self) -> None:
        """Remove the index and its documents (tests and benchmarks clean up with it)."""
        try:
            if self._indexes_itself:
                await command(self._r, "FT.DROPINDEX", self.name, "DD")
            else:
                await command(self._r, "FT.DROP", self.name)
        except ResponseError as exc:
            if not _missing(exc):
                raise

    async def _ft(self, *args: str | int | float) -> Any:
        """An FT command on our index, creating the index once if the server lost it (a
        restart without persistence, a flush)."""
        try:
            return await command(self._r, args[0], self.name, *args[1:])
        except ResponseError as exc:
            if not _missing(exc):
                raise
        await self.prepare()
        return await command(self._r, args[0], self.name, *args[1:])

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
        team, channel, thread = conv.team, conv.channel, conv.thread_ts or ts
        keys = [
            f"{self._words}{team}:{channel}:{thread}",
            self.doc_key(team, channel, thread),
            self._chans + team,
        ]
        engine_index = "" if self._indexes_itself else self.name
        args: list[str | int | float] = [
            ts, words, int(only_if_known), team, channel, self._clock(), self.ttl, 2 * self.ttl, engine_index,
        ]  # fmt: skip

        async def op() -> None:
            try:
                await self._write(keys=keys, args=args)
            except ResponseError as exc:
                if not _missing(exc):
                    raise
                await self.prepare()
                await self._write(keys=keys, args=args)
            if words:
                await self._maybe_prune(team)

        await self._guard.run(op, None, what="index")

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
        stale = [str(k) for k in found[1:]]
        for doc in stale:
            if not self._indexes_itself:
                await self._ft("FT.DEL", doc)
            await self._r.delete(doc, self._words + doc.removeprefix(self._docs))
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
        scope = [f"@team:{{{escape(team)}}}"]
        if channels is not None:
            scope.append("@channel:{" + "|".join(escape(c) for c in channels) + "}")
        scope.append(f"@last:[({self._clock() - self.ttl:.3f} +inf]")
        where = " ".join(scope)

        async def op() -> list[Hit]:
            return await self._search(team, where, words, limit)

        return await self._guard.run(op, [], what="index search")

    async def _search(self, team: str, where: str, words: list[str], limit: int) -> list[Hit]:
        """Three round trips, as in PlainIndex: how many threads in the scope have each word
        (and how many there are); the engine's best threads for the rarer words, which find
        the candidates; the candidates' words, scored by our BM25. The engine's own BM25 only
        picks candidates: RediSearch 1.2's ignores thread length, and ties come back in any
        order, so its ranking alone misses threads ours finds."""
        async with self._r.pipeline(transaction=False) as pipe:
            for word in words:
                pipe.execute_command(
                    "FT.SEARCH", self.name, f"{where} {escape(word)}", "NOCONTENT", "LIMIT", 0, 1
                )
            pipe.execute_command("FT.SEARCH", self.name, where, "NOCONTENT", "LIMIT", 0, 1)
            try:
                replies = await pipe.execute()
            except ResponseError as exc:
                if not _missing(exc):
                    raise
                await self.prepare()
                return []
        threads = int(replies[-1][0])
        df = {w: int(r[0]) for w, r in zip(words, replies, strict=False)}
        present = sorted((w for w in words if df[w]), key=lambda w: df[w])
        if not present or threads <= 0:
            return []
        rare = [w for w in present if df[w] <= max(RARE_FRACTION * threads, POSTINGS_PER_TERM)] or present[:1]
        found = await self._ft(
            "FT.SEARCH", f"{where} ({'|'.join(escape(w) for w in rare)})",
            "NOCONTENT", "SCORER", self.scorer, "LIMIT", 0, max(limit, CANDIDATES),
        )  # fmt: skip
        docs = [str(d) for d in found[1:]]
        async with self._r.pipeline(transaction=False) as pipe:
            for doc in docs:
                pipe.hget(doc, "body")
            bodies = await pipe.execute()
        idfs = {w: idf(threads, df[w]) for w in present}
        lengths = {doc: str(body or "").split() for doc, body in zip(docs, bodies, strict=True)}
        average = await self._average_length(team, lengths)
        hits = []
        for doc, body in lengths.items():
            tfs = {w: float(n) for w, n in Counter(t for t in body if t in idfs).items()}
            if not tfs:
                continue  # deleted between the two reads
            team_, channel, thread = doc.removeprefix(self._docs).split(":", 2)
            hits.append(Hit(team_, channel, thread, bm25(tfs, idfs, len(body), average)))
        hits.sort(key=lambda h: (-h.score, h.channel, h.thread_ts))
        return hits[:limit]

    async def _average_length(self, team: str, candidates: dict[str, list[str]]) -> float:
        """The team's average thread length in terms (BM25's avgdl), summed by the engine at most
        once a minute per process; the candidates' own average if the engine cannot say."""
        now = self._clock()
        cached = self._averages.get(team)
        if cached is not None and now - cached[0] < AVERAGE_EVERY:
            return cached[1]
        try:
            reply = await command(
                self._r, "FT.AGGREGATE", self.name, f"@team:{{{escape(team)}}}",
                "APPLY", "1", "AS", "one", "GROUPBY", "1", "@one",
                "REDUCE", "SUM", "1", "@len", "AS", "total", "REDUCE", "COUNT", "0", "AS", "n",
            )  # fmt: skip
            row = dict(zip(reply[1][::2], reply[1][1::2], strict=True))
            average = float(row["total"]) / max(float(row["n"]), 1.0)
        except (ResponseError, IndexError, KeyError, ValueError):
            average = sum(len(b) for b in candidates.values()) / max(len(candidates), 1)
        self._averages[team] = (now, average)
        return average
