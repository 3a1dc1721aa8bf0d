"""`python -m bench` (or `scripts/bench`): N concurrent mentions against the bot and a naive baseline.

It is a measurement, not a test: missing a target still exits 0. It exits non-zero only when the
run itself failed (a process did not start, answers did not complete in time) or was interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.answer_text import answer_pieces
from bench.measure import Figures, figures
from bench.report import table, targets_json
from bench.run import Load, RunFailed, System, run_system
from bot.text.mrkdwn import markdown_to_mrkdwn
from bot.wiring.embedded_redis import EmbeddedRedis

BOT = System("bot", "bot", markdown_to_mrkdwn)
BASELINE = System("baseline", "bench.baseline_bot", lambda answer: answer)
BASELINE_MAX_CHARS = 3800  # the baseline never splits; chat.update refuses 4,000+ characters


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--mentions", type=_positive(int), default=50, help="concurrent mentions (default 50)")
    p.add_argument("--tokens", type=_positive(int), default=200, help="pieces per answer (default 200)")
    p.add_argument("--pace", type=_non_negative, default=0.02, help="seconds between pieces (default 0.02)")
    p.add_argument(
        "--edit-interval", type=_interval, default=1.0, help="the bot's EDIT_INTERVAL, seconds (default 1.0)"
    )
    p.add_argument(
        "--slack-latency", type=_non_negative, default=0.0, help="seconds the fake Slack takes per call"
    )
    p.add_argument(
        "--update-limit",
        type=_rate,
        default=None,
        metavar="CALLS/SECONDS",
        help="rate-limit chat.update in the fake Slack, e.g. 50/60 (sliding window; default off)",
    )
    p.add_argument(
        "--new-connections",
        action="store_true",
        help="open a new connection for every event (default: kept-alive ones, opened beforehand)",
    )
    p.add_argument(
        "--timeout", type=_positive(float), default=300.0, help="seconds one batch may take (default 300)"
    )
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results here")
    p.add_argument("--skip-baseline", action="store_true", help="measure the bot only")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> tuple[dict[str, Figures], dict[str, Any]]:
    pieces = tuple(answer_pieces(args.tokens))
    load = Load(
        mentions=args.mentions,
        pieces=pieces,
        pace=args.pace,
        edit_interval=args.edit_interval,
        slack_latency=args.slack_latency,
        update_limit=args.update_limit,
        new_connections=args.new_connections,
        timeout=args.timeout,
    )
    systems = [BOT]
    notes: list[str] = []
    if args.skip_baseline:
        notes.append("baseline skipped (--skip-baseline)")
    elif len(load.answer) > BASELINE_MAX_CHARS:
        notes.append(f"baseline skipped: a {len(load.answer):,}-character answer needs splitting")
    else:
        systems.append(BASELINE)
    limit = args.update_limit
    parameters: dict[str, Any] = {
        "mentions": f"{load.mentions} at once (after 1 warm-up mention, not counted)",
        "answer": f"{args.tokens} tokens, {len(load.answer):,} characters, one token every {load.pace:g} s",
        "bot EDIT_INTERVAL": f"{load.edit_interval:g} s",
        "fake Slack latency": f"{load.slack_latency * 1000:g} ms per call",
        "chat.update limit": f"{limit[0]} calls per {limit[1]:g} s" if limit else "off",
        "events sent over": "a new connection each" if load.new_connections else "kept-alive connections",
    }
    if notes:
        parameters["note"] = "; ".join(notes)
    # SIGTERM cancels the run like Ctrl-C does, so the servers and child processes are cleaned up.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    results: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory(prefix="rdbench-redis-") as redis_dir:
        redis = EmbeddedRedis(Path(redis_dir), persistent=False)
        redis_url = await redis.start()
        try:
            for system in systems:
                print(f"running {system.name} …", file=sys.stderr, flush=True)
                results[system.name] = figures(await run_system(system, load, redis_url=redis_url))
        finally:
            await redis.stop()
    return results, parameters


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["workspace"]:  # edit policies side by side in one workspace: bench/workspace.py
        from bench.workspace import main as workspace_main

        return workspace_main(argv[1:])
    args = parse_args(argv)
    try:
        results, parameters = asyncio.run(run(args))
    except RunFailed as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("benchmark interrupted", file=sys.stderr)
        return 130
    print(table(results, parameters))
    if args.json is not None:
        document = {
            "options": {k: v for k, v in vars(args).items() if k != "json"},
            "parameters": parameters,
            "results": {name: f.as_json() for name, f in results.items()},
            "targets": targets_json(results["bot"]),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return 0


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _interval(text: str) -> float:
    value = float(text)
    if not 0.05 <= value <= 60:  # what the bot's settings accept
        raise argparse.ArgumentTypeError(f"must be between 0.05 and 60, got {text}")
    return value


def _rate(text: str) -> tuple[int, float]:
    calls, _, seconds = text.partition("/")
    try:
        parsed = int(calls), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CALLS/SECONDS such as 50/60, got {text!r}") from None
    if parsed[0] < 1 or parsed[1] <= 0:
        raise argparse.ArgumentTypeError(f"expected CALLS/SECONDS such as 50/60, got {text!r}")
    return parsed


if __name__ == "__main__":
    sys.exit(main())
