"""`python -m bench.knowledge` (or `scripts/bench-knowledge`): how well team knowledge finds the
threads that answer people's questions, whether it ever shows a thread to someone who may not
see it, how long retrieval takes and how big the index is.

It builds a synthetic workspace (bench/knowledge/workspace.py, deterministic from `--seed`),
records every message the way the bot's message middleware does (history + index) into a
throwaway redis-server, serves the workspace's channels, members and guests from the fake Slack
of tests/fakes, and runs the bot's own retrieval (`bot.core.knowledge.Knowledge.retrieve`: index
search, permission filter with its Slack calls, thread reads) for every question.
A measurement, not a test: it exits 0 whether or not the targets are met.

`--index search` runs the same on the Redis Query Engine backend (bot.stores.index_search):
the harness's redis-server loads the RediSearch module (`--module`, default Debian's
redis-redisearch). The engine keeps its inverted index in its own memory, which MEMORY USAGE
of keys does not see in full, so FT.INFO's sizes are printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bench.knowledge.workspace import Workspace, add_filler, build
from bot.core.context import ConversationReader
from bot.core.knowledge import Asking, Knowledge
from bot.model import Conversation, StoredMessage
from bot.settings import Secret, Settings
from bot.slack.access import Access
from bot.slack.identity import BotIdentity
from bot.slack.users import UserDirectory
from bot.stores import Stores
from bot.stores.index_search import SearchIndex
from bot.stores.search_engine import command, detect
from bot.text.knowledge_prompt import cited
from bot.wiring.embedded_redis import EmbeddedRedis
from tests.fakes.slack import FakeSlack

TEAM = "T1"
REDISEARCH = Path("/usr/lib/redis/modules/redisearch.so")
FT_SIZES = ("inverted_sz_mb", "offset_vectors_sz_mb", "doc_table_size_mb", "key_table_size_mb")
TARGETS = {"recall@5": ">= 0.9", "leaks": "0", "p50 ms": "<= 50", "index MB / 1k messages": "<= 1"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/bench-knowledge", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seed", type=int, default=7, help="workspace seed (default 7)")
    p.add_argument("--messages", type=int, default=100_000, help="messages indexed in all (default 100000)")
    p.add_argument("--rounds", type=int, default=3, help="times each question is timed (default 3)")
    p.add_argument(
        "--slack-latency", type=float, default=0.0, help="seconds the fake Slack waits per call (default 0)"
    )
    p.add_argument(
        "--index",
        choices=("redis", "search"),
        default="redis",
        help="the index backend: plain Redis (default) or the Redis Query Engine",
    )
    p.add_argument(
        "--module", type=Path, default=REDISEARCH, help=f"RediSearch module (default {REDISEARCH})"
    )
    p.add_argument("--server", help="the redis-server to run (default: the one on PATH)")
    return p.parse_args(argv)


def seed_slack(slack: FakeSlack, ws: Workspace) -> None:
    for user in ws.users:
        slack.add_user(user, f"person{user[1:]}")["is_restricted"] = user in ws.guests
    for cid, name in ws.channels.items():
        slack.add_channel(
            cid, name=name, is_private=cid in ws.private, members=[*ws.members[cid], slack.bot_user_id]
        )
    for user, dm in ws.dms.items():
        slack.add_channel(dm, user=user)


async def record_all(stores: Stores, ws: Workspace) -> float:
    """Every message through history and index, as the middleware records them; seconds taken."""
    started = time.perf_counter()
    pending = []
    for thread in ws.threads:
        for m in thread.messages:
            conv = Conversation(TEAM, thread.channel, m.thread_ts)
            message = StoredMessage(ts=m.ts, text=m.text, user=m.user, thread_ts=m.thread_ts)
            pending.append((conv, message))
    for start in range(0, len(pending), 32):
        batch = pending[start : start + 32]
        await asyncio.gather(*(stores.history.record(c, m) for c, m in batch))
        await asyncio.gather(*(stores.index.index_message(c, m) for c, m in batch))
    return time.perf_counter() - started


async def key_bytes(redis: aioredis.Redis, pattern: str) -> int:
    total = 0
    async for key in redis.scan_iter(match=pattern, count=2000):
        total += int(await redis.memory_usage(key, samples=0) or 0)
    return total


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    ws = build(args.seed)
    facts = sum(t.fact is not None for t in ws.threads)
    add_filler(ws, args.seed, total_messages=args.messages)
    with tempfile.TemporaryDirectory(prefix="rdbench-kx-") as redis_dir:
        modules = (args.module,) if args.index == "search" else ()
        if modules and not args.module.is_file():
            raise SystemExit(f"no RediSearch module at {args.module} (apt-get install redis-redisearch)")
        server = EmbeddedRedis(Path(redis_dir), persistent=False, modules=modules, executable=args.server)
        url = await server.start()
        try:
            async with FakeSlack(latency=args.slack_latency) as slack:
                seed_slack(slack, ws)
                await run(args, ws, facts, slack, url)
        finally:
            await server.stop()


async def run(args: argparse.Namespace, ws: Workspace, facts: int, slack: FakeSlack, url: str) -> None:
    redis = aioredis.Redis.from_url(url, decode_responses=True)
    settings = Settings(
        slack_bot_token=Secret(slack.bot_token),
        slack_signing_secret=Secret("bench"),
        relaydance_api_key=Secret("bench"),
        redis_prefix="kxbench",
        redis_timeout=5.0,
        history_max_messages=100_000,
    )
    engine = await detect(redis) if args.index == "search" else None
    if args.index == "search" and engine is None:
        raise SystemExit("the redis-server started has no Query Engine")
    stores = Stores.open(redis, settings, search_engine=engine)
    await stores.index.prepare()
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    users = UserDirectory(slack=client, cache=stores.names)
    identity = BotIdentity(TEAM, slack.bot_user_id, slack.bot_id, "https://fake.slack.com/")
    reader = ConversationReader(
        slack=client,
        history=stores.history,
        users=users,
        identity=identity,
        locks=stores.locks,
        max_messages=100_000,
    )
    access = Access(slack=client, users=users, admin_users=())
    knowledge = Knowledge(
        index=stores.index, history=stores.history, reader=reader, access=access, identity=identity, threads=5
    )
    indexing = await record_all(stores, ws)

    found = listed = listed_right = leaks = trap_leaks = first = offers = 0
    visible = [q for q in ws.questions if not q.trap]
    times: list[float] = []
    search_times: list[float] = []
    for round_ in range(args.rounds):
        for q in ws.questions:
            asking = Asking(team=TEAM, asker=q.asker, posted_in=q.posted_in, text=q.text)
            t0 = time.perf_counter()
            await stores.index.search(TEAM, q.text, limit=24)
            t1 = time.perf_counter()
            retrieval = await knowledge.retrieve(asking)
            sources = retrieval.sources
            t2 = time.perf_counter()
            search_times.append((t1 - t0) * 1000)
            times.append((t2 - t1) * 1000)
            if round_:
                continue
            bad = [s for s in sources if not ws.may_show(s.channel, asker=q.asker, posted_in=q.posted_in)]
            leaks += len(bad)
            offers += bool(retrieval.withheld)
            trap_leaks += q.trap and any(s.thread_ts == q.source.root_ts for s in sources)
            if q.trap:
                continue
            expected = (q.source.channel, q.source.root_ts)
            found += expected in {(s.channel, s.thread_ts) for s in sources}
            first += bool(sources) and (sources[0].channel, sources[0].thread_ts) == expected
            used = cited("an answer that cites nothing", sources)
            listed += len(used)
            listed_right += sum((s.channel, s.thread_ts) == expected for s in used)

    index = stores.index
    engine_sizes = ""
    if isinstance(index, SearchIndex):
        parts = {
            p.removeprefix("kxbench:").rstrip("*"): await key_bytes(redis, p) for p in index.key_patterns()
        }
        info = await command(redis, "FT.INFO", index.name)
        fields = info if isinstance(info, dict) else dict(zip(info[::2], info[1::2], strict=False))
        engine_mb = {k: float(fields.get(k, 0) or 0) for k in FT_SIZES}
        engine_sizes = ", ".join(f"{k} {v:.1f}" for k, v in engine_mb.items())
        engine_sizes += f" (docs {int(float(fields.get('num_docs', 0)))}, terms {fields.get('num_terms')})"
        # Engine 1.x keeps its inverted index in keys (`ft:`, counted above); later ones do not.
        outside = FT_SIZES if (engine or 0) >= 2 else FT_SIZES[2:]
        engine_bytes = int(sum(engine_mb[k] for k in outside) * 1e6)
    else:
        kinds = ("t", "m", "len", "age", "chans")
        parts = {kind: await key_bytes(redis, f"kxbench:kx:{kind}:*") for kind in kinds}
        engine_bytes = 0
    index_bytes = sum(parts.values())
    history_bytes = await key_bytes(redis, "kxbench:msgs:*")
    used_memory = int((await redis.info("memory"))["used_memory"])
    server_version = "Redis " + str((await redis.info("server"))["redis_version"])
    await redis.aclose()
    n = ws.message_count
    visible_n, traps = len(visible), len(ws.questions) - len(visible)
    per_k = 1000 / n / 1e6
    precision = f"{listed_right / listed:.3f} ({listed_right}/{listed} listed)" if listed else "n/a"
    rows = [
        ("workspace", f"{len(ws.channels)} channels ({len(ws.private)} private), {facts} fact threads, "
         f"{len(ws.threads):,} threads, {n:,} messages, seed {args.seed}"),
        ("questions", f"{visible_n} answerable + {traps} traps (source not the asker's to see there)"),
        ("recall@5", f"{found / visible_n:.3f} ({found}/{visible_n})"),
        ("citation precision", f"{precision} for answers citing nothing (the fallback list); "
         f"{first / visible_n:.3f} for answers citing [1] only"),
        ("leaks", f"{leaks} threads shown where they may not be ({trap_leaks} trap sources)"),
        ("private offers", f"{offers} of {len(ws.questions)} answers left out threads only the asker "
         "may see (the asker is offered a private answer)"),
        ("retrieval p50/p99", f"{statistics.median(times):.1f} / {pct(times, 0.99):.1f} ms, index search "
         f"alone {statistics.median(search_times):.1f} / {pct(search_times, 0.99):.1f} ms "
         f"(fake Slack latency {args.slack_latency * 1000:.0f} ms a call)"),
        ("index size", f"{index_bytes * per_k:.3f} MB per 1,000 messages ({index_bytes / 1e6:.1f} MB); "
         f"history {history_bytes * per_k:.3f} MB per 1,000"),
        ("index keys", ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in parts.items())),
        ("backend", f"{args.index}" + (f" (Query Engine {engine}.x, {server_version})" if engine else "")),
        *(
            [("engine memory", f"{engine_sizes}; MB by FT.INFO; with what MEMORY USAGE does not see of it "
              f"{(index_bytes + engine_bytes) * per_k:.3f} MB per 1,000 messages")]
            if engine
            else []
        ),
        ("redis used_memory", f"{used_memory / 1e6:.1f} MB in all (history, index, everything)"),
        ("indexing", f"{indexing:.1f} s for {n:,} messages (history + index, 32 at a time)"),
        ("targets", ", ".join(f"{k} {v}" for k, v in TARGETS.items())),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
