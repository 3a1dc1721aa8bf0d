"""Start each kind of answer (chat, thread summary, channel recap, /ask) in the background, and
replay one for Regenerate. Every job streams through `Answerer.answer`."""

from __future__ import annotations

import time
from datetime import timedelta

from bot.core.answerer import Question
from bot.core.deps import Deps
from bot.core.summaries import ask_prompt, channel_sources, map_reduce_prompt, thread_sources
from bot.slack.reads import fetch_channel_since
from bot.stores.history import Conversation, StoredMessage
from bot.stores.records import AnswerRecord
from bot.text.summary_prompts import parse_duration


def spawn(deps: Deps, question: Question, name: str, **kwargs: object) -> None:
    async def run() -> None:
        await deps.answerer.answer(question, **kwargs)  # type: ignore[arg-type]

    deps.tasks.spawn(run(), name=name)


def chat(deps: Deps, question: Question) -> None:
    spawn(deps, question, f"answer:{question.conversation.channel}:{question.message.ts}")


def summary(
    deps: Deps,
    *,
    team: str,
    channel: str,
    thread_ts: str,
    asker: str,
    reply_channel: str | None = None,
    reply_thread_ts: str | None = None,
) -> None:
    """Summarize a thread; the summary streams into that thread (or `reply_channel`/`reply_thread_ts`)."""
    conv = Conversation(team, channel, thread_ts)
    request = StoredMessage(ts=thread_ts, text="", user=asker)

    async def run() -> None:
        sources = await thread_sources(deps.answerer, deps.identity, conv)
        where = reply_channel or channel
        question = Question(
            Conversation(team, where, reply_thread_ts or thread_ts),
            request,
            reply_thread_ts=reply_thread_ts or thread_ts,
            kind="summary",
            params={"channel": channel, "thread_ts": thread_ts, "reply_channel": where},
            asker=asker,
        )
        prompt = map_reduce_prompt(
            deps.answerer,
            sources,
            kind="thread",
            title="Thread summary",
            budget_tokens=deps.settings.history_budget_tokens,
        )
        await deps.answerer.answer(question, prompt=prompt)

    deps.tasks.spawn(run(), name=f"summary:{channel}:{thread_ts}")


def recap(
    deps: Deps,
    *,
    team: str,
    channel: str,
    since: str,
    asker: str,
    reply_channel: str | None = None,
    reply_thread_ts: str | None = None,
) -> None:
    """Recap a channel's period; posted where asked (the channel itself unless told otherwise)."""
    period: timedelta = parse_duration(since)
    conv = Conversation(team, channel, None)

    async def backfill(oldest: str) -> list[StoredMessage]:
        return await fetch_channel_since(
            deps.slack,
            channel=channel,
            oldest=oldest,
            identity=deps.identity,
            max_messages=deps.settings.history_max_messages,
        )

    async def run() -> None:
        sources = await channel_sources(
            deps.answerer, deps.store, deps.identity, conv, since=period, now=time.time(), backfill=backfill
        )
        where = reply_channel or channel
        question = Question(
            Conversation(team, where, reply_thread_ts),
            StoredMessage(ts=f"{time.time():.6f}", text="", user=asker),
            reply_thread_ts=reply_thread_ts,
            kind="recap",
            params={"channel": channel, "since": since, "reply_channel": where},
            asker=asker,
        )
        if not sources:
            sources_note = f"No messages in <#{channel}> in the last {since or '24h'} that I have seen."
            await deps.slack.chat_postMessage(channel=where, thread_ts=reply_thread_ts, text=sources_note)
            return
        prompt = map_reduce_prompt(
            deps.answerer,
            sources,
            kind="channel",
            title=f"Recap of #{channel} ({since or '24h'})",
            budget_tokens=deps.settings.history_budget_tokens,
        )
        await deps.answerer.answer(question, prompt=prompt)

    deps.tasks.spawn(run(), name=f"recap:{channel}")


def ask(
    deps: Deps, *, team: str, channel: str, question_ts: str, text: str, asker: str, asker_name: str
) -> None:
    """/ask: answer in the thread of the posted question, with the channel's recent context."""
    conv = Conversation(team, channel, None)
    question = Question(
        Conversation(team, channel, question_ts),
        StoredMessage(ts=question_ts, text=text, user=asker),
        reply_thread_ts=question_ts,
        kind="ask",
        params={"text": text, "asker_name": asker_name, "question_ts": question_ts},
        asker=asker,
    )
    prompt = ask_prompt(
        deps.answerer,
        deps.identity,
        conv,
        question=text,
        asker_name=asker_name,
        context_messages=deps.settings.ask_context_messages,
        question_ts=question_ts,
    )
    spawn(deps, question, f"ask:{channel}:{question_ts}", prompt=prompt)


def replay(deps: Deps, record: AnswerRecord, user: str) -> bool:
    """Run the same request again (Regenerate); False when the record cannot be replayed."""
    p = record.params
    if record.kind == "chat":
        message = StoredMessage.loads(str(p["message"]))
        conv = Conversation(record.team, record.channel, p.get("conv_thread_ts"))
        chat(deps, Question(conv, message, reply_thread_ts=p.get("reply_thread_ts"), asker=user))
    elif record.kind == "summary":
        summary(
            deps,
            team=record.team,
            channel=str(p["channel"]),
            thread_ts=str(p["thread_ts"]),
            asker=user,
            reply_channel=p.get("reply_channel"),
            reply_thread_ts=p.get("reply_thread_ts"),
        )
    elif record.kind == "recap":
        recap(
            deps,
            team=record.team,
            channel=str(p["channel"]),
            since=str(p.get("since") or ""),
            asker=user,
            reply_channel=p.get("reply_channel"),
            reply_thread_ts=p.get("reply_thread_ts"),
        )
    elif record.kind == "ask":
        ask(
            deps,
            team=record.team,
            channel=record.channel,
            question_ts=str(p["question_ts"]),
            text=str(p["text"]),
            asker=user,
            asker_name=str(p.get("asker_name") or user),
        )
    else:
        return False
    return True
