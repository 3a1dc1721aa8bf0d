"""Team knowledge in answers: the past threads that match a question, limited to what the asker
and the answer's readers may see, put in the prompt; the answer then lists the ones it used.

A thread the asker may see but the answer's readers may not (a private channel, for an answer
posted in a public one) is left out and only counted: `Retrieval.withheld` names its channel, so
the asker can be told privately that more was found and offered an answer just for them.

Retrieval comes first and costs one index search plus one history read per thread kept; it
runs once the placeholder is up, inside the prompt builder, like the rest of the prompt.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from bot.core.context import ConversationReader
from bot.slack.access import Access
from bot.slack.audience import Audience
from bot.slack.identity import Identity
from bot.slack.search import SearchResult, SlackSearch
from bot.stores.history import HistoryStore
from bot.stores.index import Hit, KnowledgeIndex
from bot.text.knowledge_prompt import RELATIVE_SCORE, Source, knowledge_block, sources_footer
from bot.text.prompt import estimate_tokens
from bot.text.slack_markup import slack_to_plain

CANDIDATES = 24  # hits read from the index before the permission filter


@dataclass(slots=True)
class Citations:
    """The threads one answer's prompt quoted, to list once the answer is written."""

    sources: list[Source] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)  # found, but not for everyone here

    def footer(self, answer: str) -> str:
        return sources_footer(answer, self.sources)

    def add(self, source: Source) -> Source:
        """A thread found by a tool, numbered after the ones already listed (a thread already
        listed keeps its number)."""
        for known in self.sources:
            if (known.channel, known.thread_ts) == (source.channel, source.thread_ts):
                return known
        numbered = replace(source, number=len(self.sources) + 1)
        self.sources.append(numbered)
        return numbered


@dataclass(frozen=True, slots=True)
class Withheld:
    """A matching thread only the asker (not everyone reading the answer) may see: no text."""

    channel: str
    channel_name: str
    kind: str  # "private" or "im" (the asker's own DM with the bot)
    thread_ts: str


@dataclass(frozen=True, slots=True)
class Retrieval:
    sources: list[Source]
    withheld: list[Withheld]


@dataclass(frozen=True, slots=True)
class Asking:
    """Who asks what, and where the answer will be read."""

    team: str
    asker: str
    posted_in: str
    text: str
    exclude: frozenset[tuple[str, str]] = frozenset()  # (channel, thread_ts) already in the prompt
    action_token: str | None = None  # from the event: Slack's own search may run as the asker


class Knowledge:
    def __init__(
        self,
        *,
        index: KnowledgeIndex,
        history: HistoryStore,
        reader: ConversationReader,
        access: Access,
        identity: Identity,
        threads: int,
        slack_search: SlackSearch | None = None,
    ) -> None:
        self._index = index
        self._slack_search = slack_search
        self._history = history
        self._reader = reader
        self._access = access
        self._identity = identity
        self.threads = threads

    def audience(self, asking: Asking) -> Audience:
        """Who will read the answer: one per answer, so each channel is decided once."""
        return Audience(
            self._access, asker=asking.asker, posted_in=asking.posted_in, bot_user=self._identity.user_id
        )

    async def retrieve(self, asking: Asking) -> Retrieval:
        """The best threads for the question that everyone reading the answer may see, and those
        that would have been among them for the asker alone (scoring at least RELATIVE_SCORE of
        the best match) but that not every reader may see."""
        if self.threads <= 0 or not asking.asker:
            return Retrieval([], [])
        hits, found = await self._candidates(asking)
        hits = [hit for hit in hits if (hit.channel, hit.thread_ts) not in asking.exclude]
        audience = self.audience(asking)
        if hits:
            await audience.decide_all(hit.channel for hit in hits)
        best = hits[0].score if hits else 0.0
        kept: list[Hit] = []
        held: list[Hit] = []
        for hit in hits:
            if await audience.allows(hit.channel):
                kept.append(hit)
                if len(kept) == self.threads:
                    break
            elif (
                len(kept) + len(held) < self.threads
                and hit.score >= RELATIVE_SCORE * best
                and await audience.asker_may(hit.channel)
            ):
                held.append(hit)
        withheld = []
        for hit in held:
            view = await audience.view(hit.channel)
            if view is not None:
                withheld.append(Withheld(hit.channel, view.name, view.kind, hit.thread_ts))
        return Retrieval(await self._sources(kept, audience, found), withheld)

    async def search(
        self,
        asking: Asking,
        audience: Audience,
        query: str,
        *,
        channel: str | None = None,
        since: float | None = None,
        limit: int = 5,
    ) -> list[Source]:
        """A search the model asked for (`search_messages`): the same index and the same filter
        as `find`, optionally in one channel (already allowed) and from `since` (epoch seconds)."""
        if not asking.asker:
            return []
        channels = [channel] if channel is not None else None
        hits = await self._index.search(
            asking.team, query, channels=channels, limit=CANDIDATES * (4 if since else 1)
        )
        if since is not None:
            hits = [h for h in hits if _seconds(h.thread_ts) >= since]
        return await self.sources(asking, audience, hits, limit=limit)

    async def thread(self, asking: Asking, audience: Audience, channel: str, thread_ts: str) -> Source | None:
        """One thread the model asked for (`get_thread`), if the index holds it and everyone
        reading the answer may see it; None otherwise (the two are not told apart)."""
        if not asking.asker or not self._index.indexes(channel):
            return None
        found = await self.sources(asking, audience, [Hit(asking.team, channel, thread_ts, 0.0)], limit=1)
        return found[0] if found else None

    async def channel_named(self, asking: Asking, audience: Audience, name: str) -> str | None:
        """The indexed channel the model means by `name` (`#ops`, `ops`, `<#C1|ops>` or an id),
        if everyone reading the answer may see it; None when there is none they may."""
        cleaned = name.strip().removeprefix("<").removesuffix(">").removeprefix("#")
        ident, _, label = cleaned.partition("|")
        indexed = await self._index.channels(asking.team)
        if ident in indexed:
            return ident if await audience.allows(ident) else None
        wanted = (label or ident).lower()
        for channel in indexed:
            view = await audience.view(channel)
            if view is not None and view.name.lower() == wanted and await audience.allows(channel):
                return channel
        return None

    async def sources(
        self, asking: Asking, audience: Audience, hits: list[Hit], *, limit: int
    ) -> list[Source]:
        """`hits` the audience may see (and not already in the prompt), with their text,
        numbered from 1, at most `limit`. Their channels are decided at once, as in `retrieve`:
        one at a time, each channel's Slack lookups would add up before the tool's result."""
        wanted = [hit for hit in hits if (hit.channel, hit.thread_ts) not in asking.exclude]
        if wanted:
            await audience.decide_all(hit.channel for hit in wanted)
        kept = [hit for hit in wanted if await audience.allows(hit.channel)][:limit]
        return await self._sources(kept, audience, {})

    async def _candidates(self, asking: Asking) -> tuple[list[Hit], dict[tuple[str, str], str]]:
        """The index's hits, merged with Slack's search when the event allows it: the two lists
        interleaved by rank, each thread once (a thread only Slack found scores as the one ranked
        just above it). Also the text Slack found, for threads the history does not hold."""
        search = self._slack_search
        if search is None or not search.usable(asking.action_token):
            return await self._index.search(asking.team, asking.text, limit=CANDIDATES), {}
        ours, theirs = await asyncio.gather(
            self._index.search(asking.team, asking.text, limit=CANDIDATES),
            # Slack gets the words, not the markup (the bot's own mention goes).
            search.search(
                slack_to_plain(asking.text, names={}, bot_user_id=self._identity.user_id),
                asking.action_token,
            ),
        )
        return merge(asking.team, ours, theirs), slack_texts(theirs)

    async def _sources(
        self, kept: list[Hit], audience: Audience, found: dict[tuple[str, str], str]
    ) -> list[Source]:
        texts = await asyncio.gather(
            *(self._thread_text(hit, found.get((hit.channel, hit.thread_ts), "")) for hit in kept)
        )
        sources: list[Source] = []
        for hit, text in zip(kept, texts, strict=True):
            view = await audience.view(hit.channel)
            if text and view is not None:
                sources.append(
                    Source(
                        number=len(sources) + 1,
                        channel=hit.channel,
                        channel_name=view.name,
                        thread_ts=hit.thread_ts,
                        permalink=self._identity.permalink(hit.channel, hit.thread_ts),
                        text=text,
                        score=hit.score,
                    )
                )
        return sources

    async def _thread_text(self, hit: Hit, fallback: str = "") -> str:
        """The thread as recorded; what Slack's search showed of it when it was never recorded."""
        snapshot = await self._history.load(hit.conversation)
        if snapshot is None or not snapshot.messages:
            return fallback
        people = [m for m in snapshot.messages if not m.own and m.text.strip()]
        names = await self._reader.names(hit.team, people)
        lines = []
        for m in people:
            author = names.get(m.user or "", m.user) if m.user else "a bot"
            lines.append(
                f"{author}: {slack_to_plain(m.text, names=names, bot_user_id=self._identity.user_id)}"
            )
        return "\n".join(lines)


def fitting(sources: list[Source], budget_tokens: int) -> list[Source]:
    """The past threads whose block takes at most half of `budget_tokens`, best first: the
    conversation itself comes first when the budget is small (a retry after a refusal)."""
    kept = list(sources)
    while kept and estimate_tokens(knowledge_block(kept)) > budget_tokens // 2:
        kept.pop()
    return kept


def merge(team: str, ours: list[Hit], theirs: list[SearchResult]) -> list[Hit]:
    """Both rankings interleaved (ours first at each rank), one entry per thread."""
    slack_hits = [Hit(team, r.channel, r.thread_ts, 0.0) for r in theirs]
    merged: list[Hit] = []
    seen: set[tuple[str, str]] = set()
    for rank in range(max(len(ours), len(slack_hits))):
        for hit in (ours[rank : rank + 1], slack_hits[rank : rank + 1]):
            if not hit or (hit[0].channel, hit[0].thread_ts) in seen:
                continue
            seen.add((hit[0].channel, hit[0].thread_ts))
            score = hit[0].score or (merged[-1].score if merged else 1.0)
            merged.append(Hit(team, hit[0].channel, hit[0].thread_ts, score))
    return merged


def slack_texts(results: list[SearchResult]) -> dict[tuple[str, str], str]:
    """ "author: text" lines per thread, from what Slack's search returned."""
    texts: dict[tuple[str, str], list[str]] = {}
    for r in results:
        if r.text.strip():
            texts.setdefault((r.channel, r.thread_ts), []).append(f"{r.author}: {r.text}")
    return {key: "\n".join(lines) for key, lines in texts.items()}


def withhold(found: Retrieval, citations: Citations | None) -> list[Source]:
    """`found`'s sources; what it withheld is noted in `citations`, for the private offer."""
    if citations is not None:
        citations.withheld = found.withheld
    return found.sources


def insert(
    messages: list[dict[str, str]], sources: list[Source], citations: Citations | None
) -> list[dict[str, str]]:
    """`messages` with the knowledge block as a user message just before the last (the question)."""
    if not sources:
        return messages
    if citations is not None:
        citations.sources = sources
    block = {"role": "user", "content": knowledge_block(sources)}
    return [*messages[:-1], block, messages[-1]] if len(messages) > 1 else [*messages, block]


def _seconds(ts: str) -> float:
    try:
        return float(ts)
    except ValueError:
        return 0.0
