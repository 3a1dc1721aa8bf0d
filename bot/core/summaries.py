"""Thread summaries, channel recaps and /ask: jobs that build their prompt their own way, then
stream through the same `Answerer` path as any answer.

A summary must account for the whole thread, so when it does not fit one request it is
summarized in parts (map, run a few at a time) and the parts merged (reduce, in rounds if the
partial summaries are themselves too long) — nothing in the middle is silently dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Literal

from bot.core.answerer import Answerer, PromptBuilder
from bot.slack.reads import BotIdentity
from bot.slack.renderer import StreamingReply
from bot.stores.history import Conversation, HistoryStore, StoredMessage, ts_key
from bot.stores.records import Effective
from bot.text.slack_markup import slack_to_plain
from bot.text.summary_prompts import (
    SourceMessage,
    map_messages,
    plan_parts,
    plan_reduce,
    reduce_messages,
    single_pass_messages,
)

Kind = Literal["thread", "channel"]
MAP_CONCURRENCY = 4
MIN_SUMMARY_BUDGET = 1500  # the summary instructions alone take ~350 tokens


def to_sources(
    history: Sequence[StoredMessage],
    names: dict[str, str],
    identity: BotIdentity,
    *,
    channel: str,
    thread_ts: str | None,
) -> list[SourceMessage]:
    sources = []
    for m in history:
        if m.own:
            author = "RelayDance (bot)"
            text = m.text
        else:
            author = names.get(m.user or "", m.user or "a bot")
            text = slack_to_plain(m.text, names=names, bot_user_id=identity.user_id)
        if text.strip():
            sources.append(
                SourceMessage(
                    ts=m.ts, author=author, text=text, permalink=identity.permalink(channel, m.ts, thread_ts)
                )
            )
    return sources


async def thread_sources(
    answerer: Answerer, identity: BotIdentity, conv: Conversation
) -> list[SourceMessage]:
    history = await answerer.history(conv)
    names = await answerer.names(conv.team, history)
    return to_sources(history, names, identity, channel=conv.channel, thread_ts=conv.thread_ts)


async def channel_sources(
    answerer: Answerer,
    store: HistoryStore,
    identity: BotIdentity,
    conv: Conversation,
    *,
    since: timedelta,
    now: float,
    backfill: Callable[[str], Awaitable[list[StoredMessage]]],
) -> list[SourceMessage]:
    """Top-level messages of the channel in the period, from Redis (backfilled once from Slack)."""
    oldest = f"{now - since.total_seconds():.6f}"
    snapshot = await store.load(conv)
    if snapshot is None or not snapshot.known:
        fetched = await backfill(oldest)
        if snapshot is not None:
            # What Redis holds wins, as in the merge below (see `Answerer.history`).
            recorded = {m.ts for m in snapshot.messages}
            await store.record_many(conv, [m for m in fetched if m.ts not in recorded])
            await store.mark_backfilled(conv)
        messages = {m.ts: m for m in [*fetched, *(snapshot.messages if snapshot else [])]}
    else:
        messages = {m.ts: m for m in snapshot.messages}
    floor = ts_key(oldest)
    history = sorted((m for m in messages.values() if ts_key(m.ts) >= floor), key=lambda m: ts_key(m.ts))
    names = await answerer.names(conv.team, history)
    return to_sources(history, names, identity, channel=conv.channel, thread_ts=None)


def map_reduce_prompt(
    answerer: Answerer, sources: Sequence[SourceMessage], *, kind: Kind, title: str, budget_tokens: int
) -> PromptBuilder:
    """A prompt builder that fits `sources` into the budget by summarizing parts first."""

    budget_tokens = max(budget_tokens, MIN_SUMMARY_BUDGET)

    async def build(reply: StreamingReply, config: Effective) -> list[dict[str, str]]:
        parts = plan_parts(sources, budget_tokens=budget_tokens)
        if len(parts) <= 1:
            return single_pass_messages(sources, kind=kind, title=title)
        limit = asyncio.Semaphore(MAP_CONCURRENCY)
        done = 0

        async def summarize(index: int, part: Sequence[SourceMessage]) -> str:
            nonlocal done
            async with limit:
                text = await answerer.complete(
                    map_messages(part, index=index, total=len(parts), kind=kind), config
                )
            done += 1
            reply.status(
                f"_Reading the {'thread' if kind == 'thread' else 'channel'}: part {done} of {len(parts)}…_"
            )
            return text

        async def merge(group: Sequence[str]) -> str:
            if len(group) == 1:
                return group[0]
            return await answerer.complete(
                reduce_messages(group, kind=kind, title=title, final=False), config
            )

        reply.status(f"_Reading the {'thread' if kind == 'thread' else 'channel'} in {len(parts)} parts…_")
        partials = list(await asyncio.gather(*(summarize(i, p) for i, p in enumerate(parts, 1))))
        groups = plan_reduce(partials, budget_tokens=budget_tokens)
        while len(groups) > 1:
            # Middle rounds merge notes (final=False) so detail survives until the last merge.
            partials = list(await asyncio.gather(*(merge(g) for g in groups)))
            groups = plan_reduce(partials, budget_tokens=budget_tokens)
        reply.status("_Writing the summary…_")
        return reduce_messages(groups[0] if groups else partials, kind=kind, title=title)

    return build


def ask_prompt(
    answerer: Answerer,
    identity: BotIdentity,
    conv: Conversation,
    *,
    question: str,
    asker_name: str,
    context_messages: int,
    question_ts: str | None = None,
) -> PromptBuilder:
    """/ask: the question plus the channel's recent messages (not the question itself) as context."""

    async def build(reply: StreamingReply, config: Effective) -> list[dict[str, str]]:
        recent: list[StoredMessage] = []
        if context_messages:
            recent = [m for m in await answerer.history(conv) if m.ts != question_ts][-context_messages:]
        names = await answerer.names(conv.team, recent)
        lines = [
            f"{s.author}: {s.text}"
            for s in to_sources(recent, names, identity, channel=conv.channel, thread_ts=None)
        ]
        system = config.system_prompt
        if lines:
            system += "\n\nRecent messages in this channel, for context:\n" + "\n".join(lines)
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": f"{asker_name}: {question}"},
        ]

    return build
