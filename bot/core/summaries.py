"""Prompts for thread summaries, channel recaps and /ask, built their own way and then streamed
through the same `Answerer` path as any answer.

A summary must account for the whole thread, so when it does not fit one request it is
summarized in parts (map, run a few at a time) and the parts merged (reduce, in rounds if the
partial summaries are themselves too long) — nothing in the middle is silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from datetime import timedelta
from typing import Any

from bot.core.context import ConversationReader
from bot.core.knowledge import Asking, Citations, Knowledge, fitting, insert, withhold
from bot.core.outbound import Outbound
from bot.core.question import PromptBuilder, within
from bot.errors import UpstreamContextTooLong
from bot.llm.client import ChatRequest, RelayDanceClient, Usage
from bot.model import Conversation, StoredMessage
from bot.slack.identity import Identity
from bot.slack.renderer import Reply
from bot.stores.channel_settings import Effective
from bot.text.knowledge_prompt import knowledge_block
from bot.text.prompt import MIN_BUDGET_TOKENS, Quoted, Turn, build_with_quotes, estimate_tokens
from bot.text.slack_markup import slack_to_plain
from bot.text.summary_prompts import (
    Kind,
    SourceMessage,
    map_messages,
    plan_parts,
    plan_reduce,
    reduce_messages,
    single_pass_messages,
)

MAP_CONCURRENCY = 4
MIN_SUMMARY_BUDGET = 1500  # the summary instructions alone take ~350 tokens


def to_sources(
    history: Sequence[StoredMessage],
    names: dict[str, str],
    identity: Identity,
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
    reader: ConversationReader, identity: Identity, conv: Conversation
) -> list[SourceMessage]:
    history = await reader.read(conv)
    names = await reader.names(conv.team, history)
    return to_sources(history, names, identity, channel=conv.channel, thread_ts=conv.thread_ts)


async def channel_sources(
    reader: ConversationReader, identity: Identity, conv: Conversation, *, since: timedelta, now: float
) -> list[SourceMessage]:
    """Top-level messages people posted in the channel in the period (not the bot's own posts:
    a recap must not recap the recap before it)."""
    history = [m for m in await reader.channel_since(conv, f"{now - since.total_seconds():.6f}") if not m.own]
    names = await reader.names(conv.team, history)
    return to_sources(history, names, identity, channel=conv.channel, thread_ts=None)


async def complete(
    llm: RelayDanceClient, messages: list[dict[str, str]], config: Effective, outbound: Outbound
) -> str:
    """A whole (non-displayed) completion, e.g. one map step of a summary: redacted on the way
    out and counted toward the answer's tokens."""
    sent = outbound.messages(messages)
    request = ChatRequest(model=config.model, messages=sent, temperature=config.temperature)
    parts: list[str] = []
    usage: Usage | None = None
    try:
        async with contextlib.aclosing(llm.stream_chat(request)) as deltas:
            async for delta in deltas:
                parts.append(delta.text)
                usage = delta.usage or usage
    except UpstreamContextTooLong as exc:
        exc.sent_estimate = sum(estimate_tokens(m["content"]) for m in sent)  # to size the retry
        raise
    text = "".join(parts)
    outbound.side_request(sent, text, usage)
    return text


def map_reduce_prompt(
    llm: RelayDanceClient,
    sources: Sequence[SourceMessage],
    *,
    kind: Kind,
    title: str,
    budget_tokens: int,
    outbound: Outbound,
    max_parts: int,
) -> PromptBuilder:
    """A prompt builder that fits `sources` into the budget by summarizing parts first.

    At most `max_parts` parts are read (each costs a request): beyond that the newest parts are
    summarized, and the placeholder, the prompt and the answer's footnote all say how many of the
    oldest messages were left out. A map step or merge refused as too long for the model ends the
    build with that error (its `sent_estimate` set), so the answer can build again, smaller.
    """
    configured = budget_tokens
    what = "thread" if kind == "thread" else "channel"
    planned: list[int] = []  # the budget of each build so far

    async def build(reply: Reply, config: Effective, limit: int | None) -> list[dict[str, str]]:
        # A retry after a refusal plans smaller parts: every map step and merge fits its limit.
        budget_tokens = max(within(configured, limit), MIN_SUMMARY_BUDGET)
        if planned and budget_tokens >= planned[-1]:
            # Already at the smallest plan: the same requests would be refused again.
            raise UpstreamContextTooLong(f"no summary plan under {budget_tokens} tokens", limit=limit)
        planned.append(budget_tokens)
        parts = plan_parts(sources, budget_tokens=budget_tokens)
        left_out = 0
        if len(parts) > max_parts:
            left_out = sum(len(part) for part in parts[:-max_parts])
            parts = parts[-max_parts:]
            reply.footnote(left_out_footnote(left_out, kind))
        if len(parts) <= 1:
            return single_pass_messages(parts[0] if parts else [], kind=kind, title=title, left_out=left_out)
        at_once = asyncio.Semaphore(MAP_CONCURRENCY)
        done = 0

        async def summarize(index: int, part: Sequence[SourceMessage]) -> str:
            nonlocal done
            async with at_once:
                text = await complete(
                    llm, map_messages(part, index=index, total=len(parts), kind=kind), config, outbound
                )
            done += 1
            reply.status(f"_Reading the {what}: part {done} of {len(parts)}…_")
            return text

        async def merge(group: Sequence[str]) -> str:
            if len(group) == 1:
                return group[0]
            request = reduce_messages(group, kind=kind, title=title, final=False)
            return await complete(llm, request, config, outbound)

        if left_out:
            reply.status(
                f"_Reading the newest {len(parts)} parts of the {what} "
                f"(the oldest {left_out} messages are left out)…_"
            )
        else:
            reply.status(f"_Reading the {what} in {len(parts)} parts…_")
        partials = await _all([summarize(i, p) for i, p in enumerate(parts, 1)])
        groups = plan_reduce(partials, budget_tokens=budget_tokens)
        while len(groups) > 1:
            # Middle rounds merge notes (final=False) so detail survives until the last merge.
            partials = await _all([merge(g) for g in groups])
            groups = plan_reduce(partials, budget_tokens=budget_tokens)
        reply.status("_Writing the summary…_")
        return reduce_messages(groups[0] if groups else partials, kind=kind, title=title, left_out=left_out)

    return build


def left_out_footnote(left_out: int, kind: Kind) -> str:
    what = "thread" if kind == "thread" else "period"
    count = "message was" if left_out == 1 else f"{left_out} messages were"
    return f"_The oldest {count} left out: the {what} is too long to summarize whole._"


async def _all(steps: Sequence[Coroutine[Any, Any, str]]) -> list[str]:
    """Run the steps together; the first failure cancels the rest and is raised as itself (an
    upstream error then ends the answer with its own sentence)."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(step) for step in steps]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


def ask_prompt(
    reader: ConversationReader,
    identity: Identity,
    conv: Conversation,
    *,
    question: str,
    asker_name: str,
    context_messages: int,
    budget_tokens: int,
    question_ts: str | None = None,
    knowledge: Knowledge | None = None,
    asker: str | None = None,
    citations: Citations | None = None,
) -> PromptBuilder:
    """/ask: the question plus the channel's recent messages (not the question itself) as context,
    quoted as data in the user's turn, and with `knowledge` the past threads that match it, all
    fitted into the same budget as a mention's history."""

    async def build(_: Reply, config: Effective, limit: int | None) -> list[dict[str, str]]:
        recent: list[StoredMessage] = []
        if context_messages:
            recent = [m for m in await reader.read(conv) if m.ts != question_ts][-context_messages:]
        names = await reader.names(conv.team, recent)
        quoted = [
            Quoted(author=s.author, ts=s.ts, text=s.text)
            for s in to_sources(recent, names, identity, channel=conv.channel, thread_ts=None)
        ]
        asked = Turn(role="user", text=question, author=asker_name)
        sources = []
        if knowledge is not None and config.knowledge and asker:
            exclude = frozenset({(conv.channel, question_ts)}) if question_ts else frozenset()
            found = await knowledge.retrieve(
                Asking(team=conv.team, asker=asker, posted_in=conv.channel, text=question, exclude=exclude)
            )
            sources = withhold(found, citations)
        # The channel's messages keep the budget the past threads leave, as in a chat answer.
        budget = within(budget_tokens, limit)
        if limit is not None:  # a retry: the channel's messages before past threads
            sources = fitting(sources, budget)
        room = budget - (estimate_tokens(knowledge_block(sources)) if sources else 0)
        messages = build_with_quotes(
            config.system_prompt, quoted, asked, budget_tokens=max(room, MIN_BUDGET_TOKENS)
        )
        return insert(messages, sources, citations)

    return build
