"""An answer always ends in words: a failure injected at each step of an answer leaves a visible
note in the thread, and no task of the bot's is left behind.

The parts are real: the fake Slack and RelayDance servers on loopback, a real Redis. Failures are
injected through them (Slack refusing a call, a stream that breaks, a Slack API that cannot be
reached, text Redis cannot encode), or through the prompt builder, the seam every job uses.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.answerer import Answerer
from bot.core.archive import AnswerArchive
from bot.core.chat import chat_prompt
from bot.core.context import ConversationReader
from bot.core.lifecycle import BUG_NOTE, INTERRUPTED_NOTE, AnswerOutcome
from bot.core.placeholders import PlaceholdersFirst
from bot.core.question import PromptBuilder, Question
from bot.core.stop import LISTENER_NAME, StopOutcome, StopRegistry
from bot.llm.client import RelayDanceClient
from bot.model import Conversation, StoredMessage
from bot.slack.identity import BotIdentity
from bot.slack.renderer import EditGate, StreamingReply
from bot.slack.users import UserDirectory
from bot.stores import Stores
from bot.stores.channel_settings import Effective
from bot.stores.guard import RedisGuard
from bot.stores.history import HistoryStore
from bot.text.mrkdwn import markdown_to_mrkdwn
from tests.e2e_harness import make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.slack import FakeSlack

BOT = BotIdentity(team_id="T1", user_id="UBOT", bot_id="BBOT")
THREAD = "1700000000.000100"
ROOT = Path(__file__).resolve().parents[3]


def bot_tasks() -> list[asyncio.Task[Any]]:
    """Tasks running code of the bot's own packages (the fakes' server tasks are not ours), but
    the Stop listener, which outlives an answer on purpose (test_stop checks that it leaves)."""
    found = []
    for task in asyncio.all_tasks():
        if task.get_name() == LISTENER_NAME:
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        filename = getattr(code, "co_filename", "")
        if filename.startswith((str(ROOT / "bot"), str(ROOT / "handlers"))) and not task.done():
            found.append(task)
    return found


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rig:
    def __init__(
        self,
        slack: FakeSlack,
        relay: FakeRelayDance,
        web: AsyncWebClient,
        llm: RelayDanceClient,
        stores: Stores,
    ) -> None:
        self.slack = slack
        self.relay = relay
        self.web = web
        self.llm = llm
        self.stores = stores
        self.stops = StopRegistry(stores.stops, admin_users=())
        self.answerer = self.answerer_with(stores.history)

    def answerer_with(self, history: HistoryStore, placeholders: PlaceholdersFirst | None = None) -> Answerer:
        stores = self.stores
        return Answerer(
            slack=self.web,
            llm=self.llm,
            gate=EditGate(),
            stops=self.stops,
            channels=stores.channels,
            threads=stores.threads,
            history=history,
            archive=AnswerArchive(history=history, answers=stores.answers, usage=stores.usage, identity=BOT),
            turns=stores.turns,
            edit_interval=0.02,
            max_tokens=None,
            placeholders=placeholders,
        )

    def reader(self, slack: AsyncWebClient) -> ConversationReader:
        users = UserDirectory(slack=slack, cache=self.stores.names)
        return ConversationReader(
            slack=slack,
            history=self.stores.history,
            users=users,
            identity=BOT,
            locks=self.stores.locks,
            max_messages=50,
        )

    def question(self, text: str = "what now?") -> Question:
        message = StoredMessage(ts="1700000000.000200", text=text, user="U1", thread_ts=THREAD)
        return Question(Conversation("T1", "C1", THREAD), message, reply_thread_ts=THREAD)

    def final_text(self, outcome: AnswerOutcome) -> str:
        assert outcome.message_ts, "the answer posted nothing"
        return str(self.slack.message("C1", outcome.message_ts[-1])["text"])


@pytest.fixture
async def rig(redis_url: str, redis_prefix: str, redis_client: aioredis.Redis) -> AsyncIterator[Rig]:
    async with FakeSlack() as slack, FakeRelayDance() as relay, aiohttp.ClientSession() as session:
        slack.add_user("U1", "ada")
        slack.add_channel("C1", name="general")
        settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
        web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=session)
        async with httpx.AsyncClient() as http:
            llm = RelayDanceClient(http=http, base_url=relay.base_url, api_key=relay.api_key)
            rig = Rig(slack, relay, web, llm, Stores.open(redis_client, settings))
            yield rig
            await rig.stops.close()  # its listener lingers for answers to come, as in the bot
            assert bot_tasks() == []


@pytest.fixture
async def unreachable_slack() -> AsyncIterator[AsyncWebClient]:
    """A Slack Web API client whose every call fails to connect (nothing listens on its port)."""
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(
            token="xoxb-x", base_url=f"http://127.0.0.1:{closed_port()}/api/", session=session
        )


def simple_prompt(before: Callable[[], Awaitable[None]] | None = None) -> PromptBuilder:
    async def build(_: StreamingReply, config: Effective, limit: int | None) -> list[dict[str, str]]:
        if before is not None:
            await before()
        return [{"role": "system", "content": config.system_prompt}, {"role": "user", "content": "hi"}]

    return build


def failing_prompt(exc: BaseException) -> PromptBuilder:
    async def fail() -> None:
        raise exc

    return simple_prompt(fail)


BUG = markdown_to_mrkdwn(BUG_NOTE)


async def test_a_refused_placeholder_posts_nothing_and_leaves_nothing(rig: Rig) -> None:
    rig.slack.fail_next("chat.postMessage", error="channel_not_found")
    outcome = await rig.answerer.answer(rig.question(), simple_prompt())
    assert outcome.message_ts == [] and rig.relay.requests == []
    assert bot_tasks() == []


async def test_an_answer_whose_placeholder_is_up_waits_for_the_placeholders_still_due(rig: Rig) -> None:
    """Under a burst, placeholders first: the first one up does not start its answer while
    another answer's placeholder is still on its way (here, waiting out a 429)."""
    answerer = rig.answerer_with(rig.stores.history, PlaceholdersFirst(max_wait_seconds=5))
    rig.relay.push(Script.stream(["One."]))
    rig.relay.push(Script.stream(["Two."]))
    rig.slack.fail_next("chat.postMessage", retry_after=1)  # the first to post waits 1 s

    def question(thread: str) -> Question:  # threads of their own: no turn to wait for
        message = StoredMessage(ts=thread, text="what now?", user="U1", thread_ts=thread)
        return Question(Conversation("T1", "C1", thread), message, reply_thread_ts=thread)

    outcomes = await asyncio.gather(
        answerer.answer(question("1700000000.000300"), simple_prompt()),
        answerer.answer(question("1700000000.000400"), simple_prompt()),
    )
    assert sorted(rig.final_text(o) for o in outcomes) == ["One.", "Two."]
    posted = [c for c in rig.slack.calls_to("chat.postMessage") if c.ok]
    assert len(posted) == 2
    assert min(r.received_at for r in rig.relay.requests) > max(c.received_at for c in posted)


async def test_redis_refusing_to_record_the_question_costs_only_that_record(rig: Rig) -> None:
    # A lone surrogate cannot be encoded for Redis (text from Slack is cleaned before it gets
    # here; this one is made by hand): the record is skipped and the answer goes on.
    message = StoredMessage(ts="1700000000.000200", text="broken \ud800 text", user="U1", thread_ts=THREAD)
    question = Question(Conversation("T1", "C1", THREAD), message, reply_thread_ts=THREAD)
    rig.relay.push(Script.stream(["Still ", "answered."]))
    outcome = await rig.answerer.answer(question, simple_prompt(), record_in=Conversation("T1", "C1", THREAD))
    assert not outcome.crashed and rig.final_text(outcome) == "Still answered."
    assert bot_tasks() == []


async def test_a_failure_while_recording_the_question_ends_with_a_note(rig: Rig) -> None:
    # The question's own conversation is recorded through the real store; a Redis client whose
    # every command fails with a bug-shaped error stands for "anything else going wrong here".
    class Broken(aioredis.Redis):
        def pipeline(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug in the recording step")

    broken = Broken.from_url("redis://127.0.0.1:1")
    history = HistoryStore(broken, RedisGuard(timeout=0.2), prefix="p", max_messages=10, ttl_seconds=60)
    outcome = await rig.answerer_with(history).answer(
        rig.question(), simple_prompt(), record_in=Conversation("T1", "C1", THREAD)
    )
    await broken.aclose()
    assert outcome.crashed and rig.final_text(outcome) == BUG
    assert rig.relay.requests == []
    assert bot_tasks() == []


async def test_slack_unreachable_while_reading_history_ends_with_a_note(
    rig: Rig, unreachable_slack: AsyncWebClient
) -> None:
    # Redis never saw the thread, so its history is read from Slack, which cannot be reached.
    question = rig.question()
    prompt = chat_prompt(rig.reader(unreachable_slack), BOT, question, budget_tokens=2000)
    outcome = await rig.answerer.answer(question, prompt)
    assert outcome.crashed and rig.final_text(outcome) == BUG
    assert bot_tasks() == []


async def test_slack_unreachable_while_looking_up_names_still_answers(
    rig: Rig, unreachable_slack: AsyncWebClient
) -> None:
    question = rig.question()
    # Redis knows the thread (no backfill), so the first call to Slack is users.info.
    await rig.stores.history.record(
        Conversation("T1", "C1", None), StoredMessage(ts=THREAD, text="root", user="U9")
    )
    rig.relay.push(Script.stream(["Answered without names."]))
    prompt = chat_prompt(rig.reader(unreachable_slack), BOT, question, budget_tokens=2000)
    outcome = await rig.answerer.answer(question, prompt)
    assert not outcome.crashed and rig.final_text(outcome) == "Answered without names."
    request = rig.relay.requests[0].json
    assert "U9: root" in str(request["messages"])  # the ID stands in for the name
    assert bot_tasks() == []


async def test_a_bug_in_a_prompt_builder_ends_with_a_note(rig: Rig) -> None:
    outcome = await rig.answerer.answer(rig.question(), failing_prompt(KeyError("oops")))
    assert outcome.crashed and rig.final_text(outcome) == BUG
    assert bot_tasks() == []


@pytest.mark.parametrize(
    ("script", "note"),
    [
        (Script.stream(["Half ", "an ", "answer"], error_after=2), "Answer cut off"),
        (Script.stream(["Half ", "an ", "answer"], cut_after=2), "Answer cut off"),
        (Script.error(500), "RelayDance"),
    ],
    ids=["error-mid-stream", "cut-stream", "server-error"],
)
async def test_a_failing_stream_ends_with_a_note_and_keeps_the_text(
    rig: Rig, script: Script, note: str
) -> None:
    rig.relay.push(script, script, script)  # also for retries before the first token
    outcome = await rig.answerer.answer(rig.question(), simple_prompt())
    text = rig.final_text(outcome)
    assert outcome.error is not None and note in text
    if script.kind == "stream":
        assert text.startswith("Half an")
    assert bot_tasks() == []


@pytest.mark.parametrize("error", ["invalid_blocks", "is_archived", "fatal_error"])
async def test_slack_refusing_an_edit_ends_the_answer_with_a_note(rig: Rig, error: str) -> None:
    times = 3 if error == "fatal_error" else 1  # fatal_error is retried before giving up
    rig.slack.fail_next("chat.update", error=error, times=times)
    rig.relay.push(Script.stream([f"part {i} " for i in range(40)], pace=0.01))
    outcome = await rig.answerer.answer(rig.question(), simple_prompt())
    text = rig.final_text(outcome)
    assert outcome.error is not None and f"Slack refused the rest of this answer ({error})" in text
    assert bot_tasks() == []


async def test_a_transient_edit_failure_is_retried_and_the_answer_completes(rig: Rig) -> None:
    rig.slack.fail_next("chat.update", error="internal_error")
    rig.relay.push(Script.stream([f"part {i} " for i in range(20)], pace=0.01))
    outcome = await rig.answerer.answer(rig.question(), simple_prompt())
    assert outcome.error is None
    assert rig.final_text(outcome) == "".join(f"part {i} " for i in range(20))


async def test_slack_refusing_a_continuation_message_ends_with_a_note(rig: Rig) -> None:
    long = [("word " * 199 + "\n\n") for _ in range(8)]  # ~8,000 characters: two messages or more
    rig.relay.push(Script.stream(long, pace=0.01))

    async def refuse_the_next_post() -> None:
        rig.slack.fail_next("chat.postMessage", error="msg_blocks_too_long")

    outcome = await rig.answerer.answer(rig.question(), simple_prompt(refuse_the_next_post))
    assert isinstance(outcome.error, Exception)
    text = rig.final_text(outcome)
    assert text.startswith("word word") and "Slack refused the rest of this answer" in text
    assert bot_tasks() == []


async def test_a_refused_final_edit_still_ends_with_a_note(rig: Rig) -> None:
    rig.relay.push(Script.stream(["Short answer."]))

    async def refuse_updates_from_now() -> None:
        rig.slack.fail_next("chat.update", error="invalid_blocks")

    outcome = await rig.answerer.answer(rig.question(), simple_prompt(refuse_updates_from_now))
    # The only edit (the final one) was refused: the salvage shows the note on the placeholder.
    assert outcome.error is not None
    assert "Slack refused the rest of this answer (invalid_blocks)" in rig.final_text(outcome)
    assert bot_tasks() == []


async def stop_button_value(slack: FakeSlack) -> str:
    post = (await slack.wait_for("chat.postMessage"))[0]
    blocks = post.params["blocks"]
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return str(blocks[-1]["elements"][0]["value"])


async def test_a_stop_while_the_prompt_is_built_ends_the_message(rig: Rig) -> None:
    building = asyncio.Event()
    forever = asyncio.Event()

    async def wait_forever() -> None:
        building.set()
        await forever.wait()

    task = asyncio.create_task(rig.answerer.answer(rig.question(), simple_prompt(wait_forever)))
    await building.wait()
    answer_id = await stop_button_value(rig.slack)
    assert await rig.stops.stop(answer_id, "U1", is_admin=False) is StopOutcome.STOPPED
    outcome = await task
    assert outcome.stopped_by == "U1" and "Stopped by <@U1>" in rig.final_text(outcome)
    assert rig.relay.requests == []
    assert bot_tasks() == []


@pytest.mark.parametrize("during", ["prompt", "stream"])
async def test_a_shutdown_ends_the_message_as_interrupted(rig: Rig, during: str) -> None:
    reached = asyncio.Event()

    async def wait_forever() -> None:
        reached.set()
        await asyncio.Event().wait()

    if during == "stream":
        rig.relay.push(Script.stream(["Some ", "text ", "then"], pace=10))
    prompt = simple_prompt(wait_forever) if during == "prompt" else simple_prompt(None)
    task = asyncio.create_task(rig.answerer.answer(rig.question(), prompt))
    if during == "prompt":
        await reached.wait()
    else:
        await rig.slack.wait_for(lambda c: c.method == "chat.update" and "Some" in str(c.params.get("text")))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    posts = rig.slack.calls_to("chat.postMessage")
    text = str(rig.slack.message("C1", posts[0].response["ts"])["text"])
    assert text.endswith(markdown_to_mrkdwn(INTERRUPTED_NOTE))
    if during == "stream":
        assert text.startswith("Some")
    assert bot_tasks() == []
