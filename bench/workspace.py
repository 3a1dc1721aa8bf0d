"""`scripts/bench workspace`: many answers in one workspace, edit policies side by side in one run.

N answers at once over M channels, sent round-robin to R replica processes that share one Redis,
against a fake Slack with Slack's per-method tier limits (sliding windows). Each policy gets fresh
fakes and fresh processes:
- `budget`: this bot (the shared Redis budget and its scheduler), posting and editing only;
- `native`: this bot with native streams when the stream budget allows (SLACK_NATIVE_STREAMING=auto),
  post-and-edit for the rest;
- `timer-1s`: the bot as it was before the budget (a fixed 1 s edit interval, a per-process hold
  after a 429), run from its git commit (`--old-ref`);
- `256-chars`: the naive reference bot editing whenever 256 characters are buffered (slack-sdk's
  `chat_stream` rule);
- `every-chunk`: the naive reference bot editing on every chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.answer_text import answer_pieces
from bench.procstat import cpu_seconds, peak_rss_mb, rss_mb
from bench.run import ROOT, RunFailed, _environment, _free_port, _start, _stop, _wait_ready
from bench.workspace_measure import Policy, WorkspaceFigures, measure, table
from bot.text.mrkdwn import markdown_to_mrkdwn
from bot.text.splitting import join_chunks
from bot.wiring.embedded_redis import EmbeddedRedis
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, event_callback, sign, ts_to_micros
from tests.fakes.slack import FakeSlack

ASKER = "U1"
TIER_LIMITS = {
    "chat.update": (50, 60.0),
    "chat.startStream": (20, 60.0),
    "chat.stopStream": (20, 60.0),  # Slack counts it on its own (tier 2); the bot's budget shares one bucket
    "chat.appendStream": (100, 60.0),
}


# The bot's own budget (bot.stores.budget), one value for every method family: with `--no-limits`
# it still paces the bot at Slack's tier minimums (ramping up only while starved) unless raised.
RATE_SETTINGS = ("SLACK_RATE_UPDATE", "SLACK_RATE_POST", "SLACK_RATE_STREAM", "SLACK_RATE_APPEND")
HIGH_RATES = "100000/60,1000"
THOUSAND = {  # `--thousand`: issue 8's "1,000 concurrent answers over 100 channels, limits off"
    "answers": 1000,
    "channels": 100,
    "no_limits": True,
    "budget_rates": HIGH_RATES,
    "max_answers": 1000,  # the default too, since it was raised from 100 running + 500 queued
    "policies": "budget",
    "timeout": 600.0,
}


def _raw(answer: str) -> str:
    return answer


POLICIES = {
    "budget": Policy("budget", "bot", markdown_to_mrkdwn, {"SLACK_NATIVE_STREAMING": "off"}),
    "native": Policy("native", "bot", markdown_to_mrkdwn, {"SLACK_NATIVE_STREAMING": "auto"}, native=True),
    "timer-1s": Policy("timer-1s", "bot", markdown_to_mrkdwn, {"EDIT_INTERVAL": "1.0"}, old=True),
    "256-chars": Policy("256-chars", "bench.baseline_bot", _raw, {"BENCH_POLICY": "chars:256"}),
    "every-chunk": Policy("every-chunk", "bench.baseline_bot", _raw, {"BENCH_POLICY": "every"}),
}


@dataclass(frozen=True)
class Load:
    answers: int
    channels: int
    replicas: int
    pieces: tuple[str, ...]
    pace: float
    limits: bool
    timeout: float
    edit_interval: float = 0.25  # EDIT_INTERVAL for `_environment`; a policy's env may override it
    budget_rates: str | None = None  # every SLACK_RATE_* of the bot, as a workspace with higher limits
    max_answers: int | None = None  # MAX_CONCURRENT_ANSWERS per replica (default: the bot's, 100)


@dataclass
class Sent:
    channel: str
    ts: str
    tag: str
    body: str
    sent_at: float = 0.0


def _old_tree(ref: str, into: Path) -> Path:
    """The bot's packages as they were at `ref` (the commit before the budget, by default): its
    core and its handlers together, since today's handlers import names the old core lacks."""
    command = ["git", "-C", str(ROOT), "archive", ref, "bot", "handlers"]
    archive = subprocess.run(command, check=True, capture_output=True).stdout  # noqa: S603, S607
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)  # noqa: S603, S607
    return into


def _before_budget() -> str:
    added = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "log", "--diff-filter=A", "--format=%H", "--", "bot/stores/budget.py"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


async def run_policy(policy: Policy, load: Load, *, redis_url: str, old_ref: str) -> WorkspaceFigures:
    async with AsyncExitStack() as stack:
        slack = await stack.enter_async_context(FakeSlack())
        slack.add_user(ASKER, "ada")
        channels = [f"C{i + 1:03d}" for i in range(load.channels)]
        for channel in channels:
            slack.add_channel(channel, name=channel.lower())
        relay = await stack.enter_async_context(FakeRelayDance())
        relay.default = Script.stream(load.pieces, pace=load.pace)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rdbench-ws-")))
        prefix = f"bench-{uuid.uuid4().hex[:8]}"  # one Redis prefix: the replicas share everything
        pythonpath = str(ROOT)
        if policy.old:
            (workdir / "old").mkdir()
            pythonpath = f"{_old_tree(old_ref, workdir / 'old')}:{ROOT}"
        http = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
        processes, urls = [], []
        for replica in range(load.replicas):
            port = _free_port()
            env = _environment(slack, relay, redis_url=redis_url, port=port, load=load, workdir=workdir)  # type: ignore[arg-type]
            env.update(REDIS_PREFIX=prefix, PYTHONPATH=pythonpath, STATE_DIR=str(workdir / f"state{replica}"))
            if load.budget_rates is not None:
                env.update(dict.fromkeys(RATE_SETTINGS, load.budget_rates))
            if load.max_answers is not None:
                env.update(MAX_CONCURRENT_ANSWERS=str(load.max_answers))
            env.update(policy.env)
            log_path = workdir / f"replica{replica}.log"
            process = await _start(policy.module, env, workdir, log_path)
            stack.push_async_callback(_stop, process)
            url = f"http://127.0.0.1:{port}"
            await _wait_ready(
                http, url, process, lambda why, p=log_path: RunFailed(f"{policy.name}: {why} ({p})")
            )
            processes.append(process)
            urls.append(url)
        # Warm up each replica with a one-word answer: the budget stays as a quiet workspace has it.
        warm = [_mention(slack, channels[0], f"bench-warm-{i}") for i in range(load.replicas)]
        relay.push(*(Script.stream(["ok"], pace=0) for _ in warm))
        await asyncio.gather(*(_send(http, urls[i], m) for i, m in enumerate(warm)))
        if await _wait_shown(slack, warm, "ok", 30.0, policy):
            raise RunFailed(f"{policy.name}: the warm-up answers did not complete")
        if load.limits:  # fresh windows for the measured batch
            for method, (calls, per) in TIER_LIMITS.items():
                slack.rate_limit(method, calls, per)
        sent = [_mention(slack, channels[i % len(channels)], f"bench-q-{i:04d}") for i in range(load.answers)]
        first_call, first_request = len(slack.calls), len(relay.requests)
        cpu = sum(cpu_seconds(p.pid) for p in processes)
        rss = sum(rss_mb(p.pid) for p in processes)
        harness_cpu = time.process_time()
        started = time.monotonic()
        await asyncio.gather(*(_send(http, urls[i % len(urls)], m) for i, m in enumerate(sent)))
        if missing := await _wait_shown(slack, sent, "".join(load.pieces), load.timeout, policy):
            print(
                f"{policy.name}: {missing} of {len(sent)} answers not complete after {load.timeout:g} s",
                file=sys.stderr,
            )
        cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu
        harness_cpu = time.process_time() - harness_cpu
        peak_rss = sum(peak_rss_mb(p.pid) for p in processes)
        return measure(
            policy,
            calls=slack.calls[first_call:],
            requests=relay.requests[first_request:],
            threads={m.tag: (m.channel, m.ts) for m in sent},
            pieces=load.pieces,
            cpu_seconds=cpu,
            started_at=started,
            sent_at={m.ts: m.sent_at for m in sent},
            harness_cpu_seconds=harness_cpu,
            peak_rss_mb=peak_rss,
            rss_before_mb=rss,
        )
    raise AssertionError("unreachable")


def _mention(slack: FakeSlack, channel: str, tag: str) -> Sent:
    event = app_mention(
        text=f"<@{slack.bot_user_id}> {tag}: how should we rotate our API keys?", user=ASKER, channel=channel
    )
    slack.seed_message(channel, event["text"], ASKER, ts=event["ts"])
    return Sent(channel=channel, ts=event["ts"], tag=tag, body=json.dumps(event_callback(event)))


async def _send(http: aiohttp.ClientSession, url: str, sent: Sent) -> None:
    headers = {**sign("bench-signing-secret", sent.body), "Content-Type": "application/json"}
    sent.sent_at = time.monotonic()
    async with http.post(f"{url}/slack/events", data=sent.body.encode(), headers=headers) as response:
        await response.read()
        if response.status != 200:
            raise RunFailed(f"an event was answered {response.status}")


def _shown(slack: FakeSlack, sent: Sent) -> str:
    """The bot's replies in the thread, joined; read from the fake's store as it is (no copies:
    `thread_messages` deep-copies every message, too dear to poll a thousand threads with)."""
    store = slack.messages.get(sent.channel, {})
    replies = sorted(
        (m for m in store.values() if m.get("thread_ts") == sent.ts and m["ts"] != sent.ts),
        key=lambda m: ts_to_micros(m["ts"]),
    )
    return join_chunks([str(m.get("text", "")) for m in replies if m.get("user") == slack.bot_user_id])


async def _wait_shown(slack: FakeSlack, sent: list[Sent], answer: str, seconds: float, policy: Policy) -> int:
    """Poll until every thread shows `answer` whole, or `seconds` passed; returns how many do not.
    A thread is read again only after new calls reached the fake Slack (or a second passed), so
    the harness stays cheap beside the bot it measures."""
    finished = policy.finished(answer)
    pending = list(sent)
    deadline = time.monotonic() + seconds
    seen, read_at = -1, 0.0
    while pending and time.monotonic() < deadline:
        if len(slack.calls) != seen or time.monotonic() - read_at > 1.0:
            seen, read_at = len(slack.calls), time.monotonic()
            pending = [m for m in pending if _shown(slack, m) not in finished]
        await asyncio.sleep(0.05)
    return len(pending)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/bench workspace", description="edit policies side by side")
    p.add_argument("--answers", type=int, default=20, help="answers at once (default 20)")
    p.add_argument("--channels", type=int, default=5, help="channels they are spread over (default 5)")
    p.add_argument("--replicas", type=int, default=1, help="bot processes sharing one Redis (default 1)")
    p.add_argument("--tokens", type=int, default=200, help="pieces per answer (default 200)")
    p.add_argument("--pace", type=float, default=0.05, help="seconds between pieces (default 0.05: 20/s)")
    p.add_argument("--no-limits", action="store_true", help="no tier limits in the fake Slack")
    p.add_argument(
        "--policies", default=",".join(POLICIES), help=f"comma-separated, of {', '.join(POLICIES)}"
    )
    p.add_argument(
        "--old-ref", default=None, help="git commit of the timer-1s bot (default: before the budget)"
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a batch may take (default 300)")
    p.add_argument(
        "--budget-rates",
        default=None,
        metavar="CALLS/SECONDS,BURST",
        help=f"the bot's own budget for every method family (SLACK_RATE_*; default: the bot's), "
        f"as a workspace with higher limits would set it; 'high' = {HIGH_RATES}",
    )
    p.add_argument(
        "--max-answers",
        type=int,
        default=None,
        help="MAX_CONCURRENT_ANSWERS of each replica (default: the bot's, 100 running + 500 queued)",
    )
    p.add_argument(
        "--thousand",
        action="store_true",
        help="the 1,000-at-once preset: 1,000 answers over 100 channels, no tier limits, the bot's "
        "budget rates high, 1,000 answers admitted at once, the budget policy, 600 s (each set "
        "explicitly wins)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    if args.thousand:
        for name, value in THOUSAND.items():
            if getattr(args, name) == p.get_default(name):
                setattr(args, name, value)
    if args.budget_rates == "high":
        args.budget_rates = HIGH_RATES
    return args


async def run(args: argparse.Namespace) -> list[WorkspaceFigures]:
    load = Load(
        answers=args.answers,
        channels=args.channels,
        replicas=args.replicas,
        pieces=tuple(answer_pieces(args.tokens)),
        pace=args.pace,
        limits=not args.no_limits,
        timeout=args.timeout,
        budget_rates=args.budget_rates,
        max_answers=args.max_answers,
    )
    old_ref = args.old_ref or _before_budget()
    results = []
    with tempfile.TemporaryDirectory(prefix="rdbench-redis-") as redis_dir:
        redis = EmbeddedRedis(Path(redis_dir), persistent=False)
        redis_url = await redis.start()
        try:
            for name in args.policies.split(","):
                print(f"running {name} …", file=sys.stderr, flush=True)
                results.append(await run_policy(POLICIES[name], load, redis_url=redis_url, old_ref=old_ref))
        finally:
            await redis.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = asyncio.run(run(args))
    except RunFailed as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    limits = "off" if args.no_limits else ", ".join(f"{m} {c}/{p:g} s" for m, (c, p) in TIER_LIMITS.items())
    print(
        f"{args.answers} answers at once over {args.channels} channels, {args.replicas} replica(s); "
        f"{args.tokens} tokens each at one per {args.pace:g} s; tier limits: {limits}; "
        f"the bot's budget rates: {args.budget_rates or 'its defaults'}; "
        f"answers admitted at once per replica: {args.max_answers or 'the default'}\n"
    )
    print(table(results))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"options": vars(args) | {"json": None}, "results": [r.as_json() for r in results]},
                indent=2,
                default=str,
            )
            + "\n"
        )
    return 1 if any(r.completed < r.answers for r in results) else 0
