"""What is kept once an answer has ended: its text as the bot's turn in the conversation (so a
follow-up sees it, right after the question it answers), its record for Regenerate and feedback,
and the asker's usage."""

from __future__ import annotations

from bot.core.lifecycle import AnswerOutcome
from bot.core.question import Question
from bot.model import AnswerKind, Conversation, StoredMessage
from bot.slack.identity import Identity
from bot.stores.answers import AnswerRecord, AnswerRecords
from bot.stores.history import HistoryStore
from bot.stores.usage import UsageLedger

# Kinds whose question is a message of the conversation the answer is posted in: they are
# recorded right after it. A summary or a recap answers a request, not a message there.
ANSWERS_TO_A_MESSAGE = (AnswerKind.CHAT, AnswerKind.ASK)


class AnswerArchive:
    def __init__(
        self, *, history: HistoryStore, answers: AnswerRecords, usage: UsageLedger, identity: Identity
    ) -> None:
        self._history = history
        self._answers = answers
        self._usage = usage
        self._identity = identity

    async def keep(
        self, question: Question, outcome: AnswerOutcome, *, where: Conversation, model: str
    ) -> None:
        if not outcome.message_ts:
            return
        if outcome.text:
            await self._history.record(
                where,
                StoredMessage(
                    ts=outcome.message_ts[0],
                    text=outcome.text,
                    user=self._identity.user_id,
                    own=True,
                    thread_ts=where.thread_ts,
                    after=question.message.ts if question.kind in ANSWERS_TO_A_MESSAGE else None,
                ),
            )
        conv = question.conversation
        await self._answers.save(
            AnswerRecord(
                answer_id=outcome.answer_id,
                team=conv.team,
                channel=conv.channel,
                asker=question.asked_by,
                replay=question.how_to_replay,
                model=model,
                latency_ms=outcome.latency_ms,
                message_ts=outcome.message_ts,
            )
        )
        if question.asked_by:
            tokens = outcome.usage.total_tokens if outcome.usage else len(outcome.text) // 4
            await self._usage.add(conv.team, question.asked_by, tokens=tokens)
