"""The team-knowledge index: what the bot records, searchable by every replica; threads are the
unit of retrieval (a top-level message without replies is a thread of one).

Two backends behind one interface, chosen once at start-up (KNOWLEDGE_INDEX, see
bot.stores.search_engine): `PlainIndex` (bot.stores.index_plain), BM25 on plain Redis data
structures, for any Redis 7; and `SearchIndex` (bot.stores.index_search), on the Redis Query
Engine (FT.CREATE / FT.SEARCH) when the server has it. Both take the same words
(bot.text.terms) and scope by team and the channels passed; who may see a hit is decided by the
caller (bot.core.knowledge), never here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.model import Conversation, StoredMessage

K1 = 1.2
B = 0.75


def idf(docs: int, df: int) -> float:
    """BM25's inverse document frequency of a term in `df` of `docs` threads."""
    return math.log(1 + (docs - df + 0.5) / (df + 0.5))


def bm25(tfs: Mapping[str, float], idfs: Mapping[str, float], length: float, average: float) -> float:
    """One thread's BM25 score from its query terms' frequencies and its length in terms."""
    norm = K1 * (1 - B + B * length / max(average, 1.0))
    return sum(idfs[t] * tf * (K1 + 1) / (tf + norm) for t, tf in tfs.items())


@dataclass(frozen=True, slots=True)
class Hit:
    team: str
    channel: str
    thread_ts: str
    score: float

    @property
    def conversation(self) -> Conversation:
        return Conversation(self.team, self.channel, self.thread_ts)


class KnowledgeIndex(Protocol):
    ttl: int  # seconds a thread stays searchable after its last message (the history TTL)

    async def prepare(self) -> None:
        """Create what the backend needs before the first write (idempotent across replicas)."""

    def indexes(self, channel: str) -> bool:
        """Whether `channel`'s messages are indexed at all (KNOWLEDGE_CHANNELS)."""

    async def index_message(self, conv: Conversation, message: StoredMessage) -> None:
        """Add (or replace) one message; the bot's own answers are not sources."""

    async def edit(self, conv: Conversation, ts: str, text: str) -> None:
        """Replace a known message's words (an edit of a message never indexed is ignored)."""

    async def remove(self, conv: Conversation, ts: str) -> None:
        """Take back exactly one message's words; a thread with none left leaves the index."""

    async def channels(self, team: str) -> list[str]:
        """The team's indexed channels, sorted."""

    async def search(
        self, team: str, query: str, *, channels: Sequence[str] | None = None, limit: int = 10
    ) -> list[Hit]:
        """The best-matching threads in `channels` (None: every indexed channel), best first."""
