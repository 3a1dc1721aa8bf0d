"""Start each kind of answer — chat, thread summary, channel recap, /ask — in the background, and
replay one for Regenerate. Every job streams through `Answerer.answer`; handlers call these verbs
and nothing else of the core."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.answerer import Answerer
from bot.core.chat import chat_prompt
from bot.core.context import ConversationReader
from bot.core.knowledge import Citations, Knowledge
from bot.core.question import Question
from bot.core.summaries import ask_prompt, channel_sources, map_reduce_prompt, thread_sources
from bot.core.tasks import TaskTracker
from bot.llm.client import RelayDanceClient
from bot.model import (
    AskReplay,
    ChatReplay,
    Conversation,
    RecapReplay,
    Replay,
    StoredMessage,
    SummaryReplay,
)
from bot.slack.identity import BotIdentity
from bot.stores.answers import AnswerRecord
from bot.stores.dedupe import Dedupe
from bot.text.user_input import parse_duration

log = logging.getLogger(__name__)


class Jobs:
    def __init__(
        self,
        *,
        answerer: Answerer,
        reader: ConversationReader,
        dedupe: Dedupe,
        tasks: TaskTracker,
        llm: RelayDanceClient,
        slack: AsyncWebClient,
        identity: BotIdentity,
        budget_tokens: int,
        ask_context_messages: int,
        knowledge: Knowledge | None = None,
    ) -> None:
        self._answerer = answerer
        self._reader = reader
        self._dedupe = dedupe
        self._tasks = tasks
        self._llm = llm
        self._slack = slack
        self._identity = identity
        self._budget = budget_tokens
        self._ask_context = ask_context_messages
        self._knowledge = knowledge

    async def claim(self, team: str, channel: str, ts: str, *, event_id: str | None = None) -> bool:
        """True once per event and per message (Slack may deliver either twice)."""
        names = [f"answer:{team}:{channel}:{ts}"]
        if event_id is not None:
            names.insert(0, event_id)
        return await self._dedupe.claim(*names)

    async def answer_message(
        self, question: Question, *, event_id: str | None, record_in: Conversation | None = None
    ) -> bool:
        """Claim the event and the message, then answer in the background (False: claimed before).

        With `record_in`, the question is recorded in the background task, not in the listener.
        """
        conv = question.conversation
        if not await self.claim(conv.team, conv.channel, question.message.ts, event_id=event_id):
            return False
        self.chat(question, record_in=record_in)
        return True

    def chat(
        self,
        question: Question,
        *,
        record_in: Conversation | None = None,
        on_first_token: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        citations = Citations()
        prompt = chat_prompt(
            self._reader,
            self._identity,
            question,
            budget_tokens=self._budget,
            knowledge=self._knowledge,
            citations=citations,
        )
        self._spawn(
            f"answer:{question.conversation.channel}:{question.message.ts}",
            self._answerer.answer(
                question, prompt, record_in=record_in, on_first_token=on_first_token, citations=citations
            ),
        )

    def summary(self, replay: SummaryReplay, *, team: str, asker: str) -> None:
        """Summarize a thread; the summary streams into `replay.reply_channel`/`reply_thread_ts`."""
        conv = Conversation(team, replay.channel, replay.thread_ts)

        async def run() -> None:
            sources = await thread_sources(self._reader, self._identity, conv)
            question = Question(
                Conversation(team, replay.reply_channel, replay.reply_thread_ts),
                StoredMessage(ts=replay.thread_ts, text="", user=asker),
                reply_thread_ts=replay.reply_thread_ts,
                replay=replay,
                asker=asker,
            )
            prompt = map_reduce_prompt(
                self._llm, sources, kind="thread", title="Thread summary", budget_tokens=self._budget
            )
            await self._answerer.answer(question, prompt)

        self._spawn(f"summary:{replay.channel}:{replay.thread_ts}", run())

    def recap(self, replay: RecapReplay, *, team: str, asker: str) -> None:
        """Recap a channel's period, posted where `replay` says."""
        period = parse_duration(replay.since)
        conv = Conversation(team, replay.channel, None)
        since = replay.since or "24h"

        async def run() -> None:
            sources = await channel_sources(self._reader, self._identity, conv, since=period, now=time.time())
            if not sources:
                note = f"No messages in <#{replay.channel}> in the last {since} that I have seen."
                try:
                    await self._slack.chat_postMessage(
                        channel=replay.reply_channel, thread_ts=replay.reply_thread_ts, text=note
                    )
                except SlackApiError as exc:
                    log.warning("could not post in %s: %s", replay.reply_channel, exc.response.get("error"))
                return
            question = Question(
                Conversation(team, replay.reply_channel, replay.reply_thread_ts),
                StoredMessage(ts=f"{time.time():.6f}", text="", user=asker),
                reply_thread_ts=replay.reply_thread_ts,
                replay=replay,
                asker=asker,
            )
            prompt = map_reduce_prompt(
                self._llm,
                sources,
                kind="channel",
                title=f"Recap of #{replay.channel} ({since})",
                budget_tokens=self._budget,
            )
            await self._answerer.answer(question, prompt)

        self._spawn(f"recap:{replay.channel}", run())

    def ask(self, replay: AskReplay, *, team: str, channel: str, asker: str) -> None:
        """/ask: answer in the thread of the posted question, with the channel's recent context."""
        question = Question(
            Conversation(team, channel, replay.question_ts),
            StoredMessage(ts=replay.question_ts, text=replay.text, user=asker),
            reply_thread_ts=replay.question_ts,
            replay=replay,
            asker=asker,
        )
        citations = Citations()
        prompt = ask_prompt(
            self._reader,
            self._identity,
            Conversation(team, channel, None),
            question=replay.text,
            asker_name=replay.asker_name,
            context_messages=self._ask_context,
            budget_tokens=self._budget,
            question_ts=replay.question_ts,
            knowledge=self._knowledge,
            asker=asker,
            citations=citations,
        )
        self._spawn(
            f"ask:{channel}:{replay.question_ts}",
            self._answerer.answer(question, prompt, citations=citations),
        )

    def replay(self, record: AnswerRecord, user: str) -> None:
        """Run the same request again (Regenerate), as asked by `user`."""
        replay: Replay = record.replay
        if isinstance(replay, ChatReplay):
            self.chat(Question(replay.conversation, replay.message, replay.reply_thread_ts, asker=user))
        elif isinstance(replay, SummaryReplay):
            self.summary(replay, team=record.team, asker=user)
        elif isinstance(replay, RecapReplay):
            self.recap(replay, team=record.team, asker=user)
        else:
            self.ask(replay, team=record.team, channel=record.channel, asker=user)

    def _spawn(self, name: str, work: Awaitable[object]) -> None:
        async def run() -> None:
            await work

        self._tasks.spawn(run(), name=name)
