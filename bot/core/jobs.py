"""Start each kind of answer — chat, thread summary, channel recap, /ask — in the background, and
replay one for Regenerate. Every job streams through `Answerer.answer`; handlers call these verbs
and nothing else of the core.

Every answer passes the same controls on its way, in this order: the allow/block lists, the
daily token allowances, and the admission gate (a slot, a place in the queue, or "too busy");
then its placeholder goes up, a queued one waits there for its turn, and every request it sends
is redacted (`Outbound`). What it used is charged to whoever asked for it once it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.admission import AdmissionGate, Ticket, queued_status
from bot.core.answerer import Answerer, Toolbox
from bot.core.chat import chat_prompt
from bot.core.context import ConversationReader
from bot.core.knowledge import Asking, Citations, Knowledge, Withheld
from bot.core.knowledge_tools import KnowledgeTools
from bot.core.notices import BUSY, Notices
from bot.core.outbound import REDACTED_NOTE, Outbound
from bot.core.question import PromptBuilder, Question
from bot.core.summaries import ask_prompt, channel_sources, map_reduce_prompt, thread_sources
from bot.core.tasks import TaskTracker
from bot.llm.client import RelayDanceClient
from bot.model import (
    AnswerKind,
    AskReplay,
    ChatReplay,
    Conversation,
    PrivateAsk,
    RecapReplay,
    Replay,
    StoredMessage,
    SummaryReplay,
)
from bot.slack.access import Access
from bot.slack.blocks import private_offer_blocks
from bot.slack.identity import Identity
from bot.slack.renderer import PLACEHOLDER, Reply
from bot.stores.answers import AnswerRecord
from bot.stores.channel_settings import Effective
from bot.stores.dedupe import Dedupe
from bot.stores.quotas import DailyQuotas
from bot.stores.throttle import Throttle
from bot.text.knowledge_prompt import withheld_note
from bot.text.redact import Redactor
from bot.text.slack_markup import mentioned_user_ids
from bot.text.user_input import parse_duration

log = logging.getLogger(__name__)

REGENERATE_LIMIT = "You've regenerated {count} answers in the last minute; try again in a minute."


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
        identity: Identity,
        budget_tokens: int,
        ask_context_messages: int,
        access: Access,
        admission: AdmissionGate,
        regenerations: Throttle,
        quotas: DailyQuotas,
        redactor: Redactor,
        max_summary_parts: int,
        knowledge: Knowledge | None = None,
    ) -> None:
        self._answerer = answerer
        self._reader = reader
        self._dedupe = dedupe
        self._tasks = tasks
        self._llm = llm
        self._slack = slack
        self._notices = Notices(slack)
        self._identity = identity
        self._budget = budget_tokens
        self._ask_context = ask_context_messages
        self._access = access
        self._admission = admission
        self._regenerations = regenerations
        self._quotas = quotas
        self._redactor = redactor
        self._max_parts = max_summary_parts
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

    # -- the jobs ---------------------------------------------------------------------------------

    def chat(
        self,
        question: Question,
        *,
        record_in: Conversation | None = None,
        on_first_token: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._spawn(
            f"answer:{question.conversation.channel}:{question.message.ts}",
            self._chat(
                question, charge=question.asked_by, record_in=record_in, on_first_token=on_first_token
            ),
        )

    def summary(self, replay: SummaryReplay, *, team: str, asker: str) -> None:
        """Summarize a thread; the summary streams into `replay.reply_channel`/`reply_thread_ts`."""
        self._spawn(f"summary:{replay.channel}:{replay.thread_ts}", self._summary(replay, team, asker, asker))

    def recap(self, replay: RecapReplay, *, team: str, asker: str) -> None:
        """Recap a channel's period, posted where `replay` says."""
        self._spawn(f"recap:{replay.channel}", self._recap(replay, team, asker, asker))

    def ask(self, replay: AskReplay, *, team: str, channel: str, asker: str) -> None:
        """/ask: answer in the thread of the posted question, with the channel's recent context."""
        self._spawn(f"ask:{channel}:{replay.question_ts}", self._ask(replay, team, channel, asker, asker))

    def private_answer(self, ask: PrivateAsk, user: str) -> None:
        """Answer `ask` again for `user` alone, in their DM with the bot, where the threads only
        they may see can be used (the "Answer me privately" button)."""
        self._spawn(f"private:{ask.channel}:{ask.ts}", self._private(ask, user))

    def replay(self, record: AnswerRecord, user: str) -> None:
        """Run the same request again (Regenerate), pressed by `user`: the original asker stays the
        asker (who may stop it), `user` is throttled, checked again and charged."""
        self._spawn(f"regenerate:{record.answer_id}", self._replay(record, user))

    # -- what each job runs -----------------------------------------------------------------------

    async def _chat(
        self,
        question: Question,
        *,
        charge: str | None,
        record_in: Conversation | None = None,
        on_first_token: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        citations = Citations()
        outbound = Outbound(self._redactor)
        conv = question.conversation
        tools = self._tools(
            conv.team,
            question.asked_by,
            conv.channel,
            question.message.text,
            frozenset({(conv.channel, conv.thread_ts or question.message.ts)}),
            citations,
            outbound,
        )
        prompt = chat_prompt(
            self._reader,
            self._identity,
            question,
            budget_tokens=self._budget,
            knowledge=self._knowledge,
            citations=citations,
        )
        await self._answer(
            question,
            prompt,
            charge=charge,
            record_in=record_in,
            on_first_token=on_first_token,
            citations=citations,
            outbound=outbound,
            tools=tools,
        )
        await self._offer_privately(question, citations.withheld)

    async def _summary(self, replay: SummaryReplay, team: str, asker: str, charge: str) -> None:
        conv = Conversation(team, replay.channel, replay.thread_ts)
        sources = await thread_sources(self._reader, self._identity, conv)
        question = Question(
            Conversation(team, replay.reply_channel, replay.reply_thread_ts),
            StoredMessage(ts=replay.thread_ts, text="", user=asker),
            reply_thread_ts=replay.reply_thread_ts,
            replay=replay,
            asker=asker,
        )
        outbound = Outbound(self._redactor)
        prompt = map_reduce_prompt(
            self._llm,
            sources,
            kind="thread",
            title="Thread summary",
            budget_tokens=self._budget,
            outbound=outbound,
            max_parts=self._max_parts,
        )
        await self._answer(question, prompt, charge=charge, outbound=outbound)

    async def _recap(self, replay: RecapReplay, team: str, asker: str, charge: str) -> None:
        period = parse_duration(replay.since)
        conv = Conversation(team, replay.channel, None)
        since = replay.since or "24h"
        sources = await channel_sources(self._reader, self._identity, conv, since=period, now=time.time())
        if not sources:
            note = f"No messages in <#{replay.channel}> in the last {since} that I have seen."
            await self._notices.post(replay.reply_channel, replay.reply_thread_ts, note)
            return
        question = Question(
            Conversation(team, replay.reply_channel, replay.reply_thread_ts),
            StoredMessage(ts=f"{time.time():.6f}", text="", user=asker),
            reply_thread_ts=replay.reply_thread_ts,
            replay=replay,
            asker=asker,
        )
        outbound = Outbound(self._redactor)
        prompt = map_reduce_prompt(
            self._llm,
            sources,
            kind="channel",
            title=f"Recap of #{replay.channel} ({since})",
            budget_tokens=self._budget,
            outbound=outbound,
            max_parts=self._max_parts,
        )
        await self._answer(question, prompt, charge=charge, outbound=outbound)

    async def _ask(self, replay: AskReplay, team: str, channel: str, asker: str, charge: str) -> None:
        question = Question(
            Conversation(team, channel, replay.question_ts),
            StoredMessage(ts=replay.question_ts, text=replay.text, user=asker),
            reply_thread_ts=replay.question_ts,
            replay=replay,
            asker=asker,
        )
        citations = Citations()
        outbound = Outbound(self._redactor)
        exclude = frozenset({(channel, replay.question_ts)})
        tools = self._tools(team, asker, channel, replay.text, exclude, citations, outbound)
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
        await self._answer(
            question, prompt, charge=charge, citations=citations, outbound=outbound, tools=tools
        )
        await self._offer_privately(question, citations.withheld)

    def _tools(
        self,
        team: str,
        asker: str | None,
        posted_in: str,
        text: str,
        exclude: frozenset[tuple[str, str]],
        citations: Citations,
        outbound: Outbound,
    ) -> KnowledgeTools | None:
        """The model's search tools for an answer to `asker` read in `posted_in` (None without
        team knowledge); the answerer offers them where the channel's setting allows."""
        if self._knowledge is None or not asker:
            return None
        asking = Asking(team=team, asker=asker, posted_in=posted_in, text=text, exclude=exclude)
        return KnowledgeTools(
            knowledge=self._knowledge,
            asking=asking,
            citations=citations,
            outbound=outbound,
            workspace_url=self._identity.url,
        )

    async def _offer_privately(self, question: Question, withheld: list[Withheld]) -> None:
        """Tell the asker, privately in the thread, that threads not everyone in the channel may
        see were left out, with a button for an answer in their DM that may use them. The note
        names where they are (the asker may see those channels), never what they say."""
        asker = question.asked_by
        if not withheld or not asker:
            return
        places = [f"<#{w.channel}>" if w.kind != "im" else "our direct messages" for w in withheld]
        note = withheld_note(places)
        conv = question.conversation
        ask = PrivateAsk(conv.team, conv.channel, question.message.ts, question.message.text)
        await self._notices.private(
            conv.channel,
            asker,
            note,
            thread_ts=question.reply_thread_ts,
            blocks=private_offer_blocks(note, ask.to_value()),
        )

    async def _private(self, ask: PrivateAsk, user: str) -> None:
        if not await self._dedupe.claim(f"private:{ask.team}:{ask.channel}:{ask.ts}:{user}"):
            return  # pressed twice: one answer is enough
        quote = "\n".join(f">{line}" for line in ask.text.splitlines() or [""])
        intro = (
            f"You asked in <#{ask.channel}>:\n{quote}\n"
            "Here is an answer that may also use conversations you can see but not everyone there can."
        )
        try:
            # A user id as the channel posts in the bot's DM with them (no conversations.open).
            posted = await self._slack.chat_postMessage(channel=user, text=intro)
        except SlackApiError as exc:
            log.warning("could not open a DM with %s: %s", user, exc.response.get("error"))
            return
        dm, root = str(posted["channel"]), str(posted["ts"])
        message = StoredMessage(ts=root, text=ask.text, user=user)
        await self._chat(Question(Conversation(ask.team, dm, root), message, root), charge=user)

    async def _replay(self, record: AnswerRecord, user: str) -> None:
        replay: Replay = record.replay
        where = _reply_thread(replay)
        if not await self._regenerations.allow(record.team, user):
            count = self._regenerations.per_minute
            await self._notices.private(
                record.channel, user, REGENERATE_LIMIT.format(count=count), thread_ts=where
            )
            return
        problem = self._access.not_enabled(record.channel, user)
        if problem is None and isinstance(replay, SummaryReplay):
            problem = await self._access.refusal(replay.channel, user, doing="summarize")
        elif problem is None and isinstance(replay, RecapReplay):
            problem = await self._access.refusal(replay.channel, user, doing="recap")
        if problem is not None:
            await self._notices.private(record.channel, user, problem, thread_ts=where)
            return
        asker = record.asker or user
        if isinstance(replay, ChatReplay):
            question = Question(replay.conversation, replay.message, replay.reply_thread_ts, asker=asker)
            await self._chat(question, charge=user)
        elif isinstance(replay, SummaryReplay):
            await self._summary(replay, record.team, asker, user)
        elif isinstance(replay, RecapReplay):
            await self._recap(replay, record.team, asker, user)
        else:
            await self._ask(replay, record.team, record.channel, asker, user)

    # -- the controls every answer passes ---------------------------------------------------------

    async def _answer(
        self,
        question: Question,
        prompt: PromptBuilder,
        *,
        charge: str | None,
        outbound: Outbound | None = None,
        record_in: Conversation | None = None,
        on_first_token: Callable[[], Awaitable[None]] | None = None,
        citations: Citations | None = None,
        tools: Toolbox | None = None,
    ) -> None:
        conv = question.conversation
        charge = charge or None
        problem = self._access.not_enabled(conv.channel, charge)
        if problem is not None:
            await self._refuse(question, charge, problem)
            return
        over = await self._quotas.refusal(conv.team, charge, conv.channel)
        if over is not None:
            await self._say(question, charge, over)
            return
        ticket = self._admission.admit()
        if ticket is None:
            if self._admission.refused % 100 == 1:  # the first of a burst, then every 100th
                log.warning(
                    "too busy: %d answers running, the queue is full; %d turned away so far",
                    self._admission.running,
                    self._admission.refused,
                )
            await self._say(question, charge, BUSY)
            return
        outbound = outbound or Outbound(self._redactor)
        try:
            outcome = await self._answerer.answer(
                question,
                _admitted(prompt, ticket, outbound),
                record_in=record_in,
                on_first_token=on_first_token,
                citations=citations,
                tools=tools,
            )
        finally:
            ticket.release()
        await self._quotas.spend(
            conv.team, charge, conv.channel, outbound.total_tokens(outcome.text, outcome.usage)
        )

    async def _refuse(self, question: Question, user: str | None, problem: str) -> None:
        """Not enabled here or for them: a plain reply in a DM, a private note for a mention or a
        command, and silence for a follow-up that did not address the bot."""
        channel = question.conversation.channel
        if channel.startswith("D"):
            await self._notices.post(channel, question.reply_thread_ts, problem)
            return
        addressed = question.kind is not AnswerKind.CHAT or self._identity.user_id in mentioned_user_ids(
            question.message.text
        )
        if addressed and user:
            await self._notices.private(channel, user, problem, thread_ts=question.reply_thread_ts)

    async def _say(self, question: Question, user: str | None, text: str) -> None:
        """A plain message where the answer would have gone (privately at a channel's top level)."""
        channel, thread_ts = question.conversation.channel, question.reply_thread_ts
        if thread_ts is None and not channel.startswith("D") and user:
            await self._notices.private(channel, user, text)
        else:
            await self._notices.post(channel, thread_ts, text)

    def _spawn(self, name: str, work: Awaitable[object]) -> None:
        async def run() -> None:
            await work

        self._tasks.spawn(run(), name=name)


def _admitted(prompt: PromptBuilder, ticket: Ticket, outbound: Outbound) -> PromptBuilder:
    """`prompt`, run once the answer has its turn (its placeholder shows the queue meanwhile), and
    redacted on its way out, with a footnote when anything was."""

    async def build(reply: Reply, config: Effective, limit: int | None) -> list[dict[str, str]]:
        if not ticket.running:
            await ticket.wait(lambda ahead: reply.status(queued_status(ahead)))
            reply.status(PLACEHOLDER)
        messages = outbound.final(await prompt(reply, config, limit))
        if outbound.redacted:
            reply.footnote(REDACTED_NOTE)
        return messages

    return build


def _reply_thread(replay: Replay) -> str | None:
    if isinstance(replay, AskReplay):
        return replay.question_ts
    return replay.reply_thread_ts
