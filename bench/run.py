"""Run one system (the bot or the baseline) against fresh loopback fakes and record what happened.

The system under test is a child process (`python -m bot` or `python -m bench.baseline_bot`) so
its CPU time and peak memory are its own; the fakes, the load generator and the clock live here,
so every timestamp comes from this process's `time.monotonic()` and they all agree.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.procstat import cpu_seconds, peak_rss_mb
from bot.settings import Settings
from bot.text.splitting import join_chunks
from tests.fakes.relaydance import FakeRelayDance, Request, Script
from tests.fakes.signing import app_mention, event_callback, sign
from tests.fakes.slack import Call, FakeSlack

ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "bench-signing-secret"
CHANNEL = "C1"
ASKER = "U1"
READY_TIMEOUT = 30.0
WARM_UP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class RunFailed(Exception):
    """The run itself went wrong (a process died, answers did not complete): no figures to report."""


@dataclass(frozen=True, kw_only=True)
class Load:
    """What every system is put through; the same for the bot and the baseline."""

    mentions: int
    pieces: tuple[str, ...]  # the streamed answer, one piece per token
    pace: float
    edit_interval: float
    slack_latency: float
    update_limit: tuple[int, float] | None  # chat.update: at most CALLS in any SECONDS
    new_connections: bool  # a new TCP connection per event instead of kept-alive ones
    timeout: float  # seconds the measured batch may take to be answered completely

    @property
    def answer(self) -> str:
        return "".join(self.pieces)


@dataclass(frozen=True)
class System:
    name: str
    module: str  # run as `python -m <module>`
    final_text: Callable[[str], str]  # what the thread shows (parts joined) once an answer is done


@dataclass
class Mention:
    """One `app_mention` sent to the system, and how the HTTP request went."""

    tag: str  # unique text in the question, to find its RelayDance request
    ts: str
    body: str
    sent_at: float = 0.0
    acked_at: float = 0.0
    status: int = 0


@dataclass
class RunRecord:
    """Everything measured about one system's batch; `bench.measure` turns it into figures."""

    system: str
    mentions: list[Mention]
    slack_calls: list[Call]
    relay_requests: list[Request]
    started_at: float
    cpu_seconds: float
    peak_rss_mb: float
    harness_cpu_seconds: float


def question_tag(index: int) -> str:
    return f"bench-q-{index:04d}"


async def run_system(system: System, load: Load, *, redis_url: str) -> RunRecord:
    """Start fresh fakes and the system, warm it up with one mention, then measure the batch."""
    async with AsyncExitStack() as stack:
        slack = await stack.enter_async_context(FakeSlack(latency=load.slack_latency))
        slack.add_user(ASKER, "ada")
        slack.add_channel(CHANNEL, name="general")
        relay = await stack.enter_async_context(FakeRelayDance())
        relay.default = Script.stream(load.pieces, pace=load.pace)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rdbench-")))
        port = _free_port()
        env = _environment(slack, relay, redis_url=redis_url, port=port, load=load, workdir=workdir)
        log_path = workdir / "output.log"
        process = await _start(system.module, env, workdir, log_path)
        stack.push_async_callback(_stop, process)
        # aiohttp rather than httpx for the load: httpx's pool spends ~2.5 ms CPU a request at 50
        # concurrent connections, which would show up in every ack latency measured here.
        connector = aiohttp.TCPConnector(limit=0, force_close=load.new_connections)
        http = await stack.enter_async_context(
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))
        )
        url = f"http://127.0.0.1:{port}"
        expected = system.final_text(load.answer)

        def failed(why: str) -> RunFailed:
            return RunFailed(f"{system.name}: {why}{_tail(log_path)}")

        await _wait_ready(http, url, process, failed)
        warm_up = _mention(slack, "bench-warm-up")
        await _send(http, url, warm_up)
        await _wait_answered(slack, [warm_up], expected, process, WARM_UP_TIMEOUT, failed)
        if load.update_limit is not None:  # a fresh window for the measured batch
            slack.rate_limit("chat.update", *load.update_limit)

        mentions = [_mention(slack, question_tag(i)) for i in range(load.mentions)]
        if not load.new_connections:
            await _open_connections(http, url, load.mentions)
        first_call, first_request = len(slack.calls), len(relay.requests)
        harness_cpu = time.process_time()
        cpu = cpu_seconds(process.pid)
        started_at = time.monotonic()
        await asyncio.gather(*(_send(http, url, m) for m in mentions))
        await _wait_answered(slack, mentions, expected, process, load.timeout, failed)
        cpu = cpu_seconds(process.pid) - cpu
        harness_cpu = time.process_time() - harness_cpu
        return RunRecord(
            system=system.name,
            mentions=mentions,
            slack_calls=slack.calls[first_call:],
            relay_requests=relay.requests[first_request:],
            started_at=started_at,
            cpu_seconds=cpu,
            peak_rss_mb=peak_rss_mb(process.pid),
            harness_cpu_seconds=harness_cpu,
        )
    raise AssertionError("unreachable")  # mypy: AsyncExitStack may swallow exceptions


# -- the system's process ---------------------------------------------------------------------------


def settings_names() -> list[str]:
    """Every variable `Settings.from_env` reads, learnt by watching it read a valid environment."""
    seen: list[str] = []

    class Watched(Mapping[str, str]):
        def __init__(self, values: dict[str, str]) -> None:
            self._values = values

        def __getitem__(self, key: str) -> str:
            seen.append(key)
            return self._values[key]

        def __iter__(self) -> Iterator[str]:
            return iter(self._values)

        def __len__(self) -> int:
            return len(self._values)

    Settings.from_env(
        Watched({"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": "x", "RELAYDANCE_API_KEY": "x"})
    )
    return list(dict.fromkeys(seen))


def _environment(
    slack: FakeSlack, relay: FakeRelayDance, *, redis_url: str, port: int, load: Load, workdir: Path
) -> dict[str, str]:
    """A complete environment: nothing from the caller's shell or a `.env` can change the run.

    `bot.__main__` loads `.env` without overriding variables that are set, and finds it by walking
    up from the bot's source folder (not the working directory), so every setting is set here,
    empty for "use the default".
    """
    env = dict.fromkeys(settings_names(), "")
    env.update(
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        LANG="C.UTF-8",
        HOME=str(workdir),
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        RELAYDANCE_API_KEY=relay.api_key,
        RELAYDANCE_BASE_URL=relay.base_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=f"bench-{uuid.uuid4().hex[:8]}",
        STATE_DIR=str(workdir / "state"),
        PORT=str(port),
        HOST="127.0.0.1",
        EDIT_INTERVAL=str(load.edit_interval),
        SLACK_NATIVE_STREAMING="off",  # post-and-edit, as before native streams (workspace: a policy)
        LOG_LEVEL="WARNING",
    )
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start(
    module: str, env: dict[str, str], workdir: Path, log_path: Path
) -> asyncio.subprocess.Process:
    with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            cwd=workdir,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (both systems shut down cleanly on it), then SIGKILL if it lingers."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


def _tail(log_path: Path, lines: int = 15) -> str:
    try:
        text = log_path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return "\n  process output:\n    " + "\n    ".join(text.splitlines()[-lines:]) if text else ""


async def _wait_ready(
    http: aiohttp.ClientSession,
    url: str,
    process: asyncio.subprocess.Process,
    failed: Callable[[str], RunFailed],
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if process.returncode is not None:
            raise failed(f"exited with status {process.returncode} while starting")
        try:
            async with http.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as response:
                if response.status == 200:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise failed(f"/healthz did not answer 200 within {READY_TIMEOUT:g} s")
        await asyncio.sleep(0.05)


# -- load ---------------------------------------------------------------------------------------


def _mention(slack: FakeSlack, tag: str) -> Mention:
    """A mention in its own new thread, also stored in the fake Slack as Slack would have it."""
    event = app_mention(text=f"<@{slack.bot_user_id}> {tag}: how should we rotate our API keys?", user=ASKER)
    slack.seed_message(CHANNEL, event["text"], ASKER, ts=event["ts"])
    return Mention(tag=tag, ts=event["ts"], body=json.dumps(event_callback(event)))


async def _open_connections(http: aiohttp.ClientSession, url: str, count: int) -> None:
    """Open one kept-alive connection per mention beforehand, as a proxy in front of the bot keeps
    them: 50 simultaneous TCP set-ups alone take ~20 ms on loopback here, which is not the bot's."""

    async def probe() -> None:
        async with http.get(f"{url}/healthz") as response:
            await response.read()

    await asyncio.gather(*(probe() for _ in range(count)))


async def _send(http: aiohttp.ClientSession, url: str, mention: Mention) -> None:
    headers = {**sign(SIGNING_SECRET, mention.body), "Content-Type": "application/json"}
    mention.sent_at = time.monotonic()
    async with http.post(f"{url}/slack/events", data=mention.body.encode(), headers=headers) as response:
        await response.read()
        mention.acked_at = time.monotonic()
        mention.status = response.status


def shown_answer(slack: FakeSlack, thread_ts: str) -> str:
    """The bot's replies in a thread, joined back into one text (long answers span messages)."""
    replies = slack.thread_messages(CHANNEL, thread_ts)
    return join_chunks([str(m.get("text", "")) for m in replies if m.get("user") == slack.bot_user_id])


async def _wait_answered(
    slack: FakeSlack,
    mentions: list[Mention],
    expected: str,
    process: asyncio.subprocess.Process,
    seconds: float,
    failed: Callable[[str], RunFailed],
) -> None:
    """Wait until every thread shows the complete answer; polls, so the end is known to ~50 ms."""
    refused = [m for m in mentions if m.status != 200]
    if refused:
        raise failed(f"{len(refused)} event(s) were not acknowledged with 200 (e.g. {refused[0].status})")
    pending = [m.ts for m in mentions]
    deadline = time.monotonic() + seconds
    answered = 0  # slack.calls[:answered] have all been answered (their changes applied)
    looked_at = -1  # len(slack.calls) when the threads were last looked at with every call answered
    while True:
        calls = slack.calls
        while answered < len(calls) and calls[answered].status is not None:
            answered += 1
        if answered < len(calls) or looked_at != len(calls):  # skip when nothing changed since
            looked_at = len(calls) if answered == len(calls) else -1
            pending = [ts for ts in pending if shown_answer(slack, ts) != expected]
        if not pending:
            return
        if process.returncode is not None:
            raise failed(f"exited with status {process.returncode} with {len(pending)} answers unfinished")
        if time.monotonic() > deadline:
            raise failed(f"{len(pending)} of {len(mentions)} answers were not complete after {seconds:g} s")
        await asyncio.sleep(0.05)
