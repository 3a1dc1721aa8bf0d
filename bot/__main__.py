"""`python -m bot [run | doctor | healthcheck]`: the only place that loads `.env` and reads `os.environ`.

python -m bot              run the bot (HTTP or Socket Mode, from the settings)
python -m bot doctor       check the settings against Slack, RelayDance and Redis
python -m bot healthcheck  ask the running bot's /healthz (the container's HEALTHCHECK)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

from dotenv import load_dotenv

from bot.errors import ConfigError
from bot.settings import ConfigErrors, Settings
from bot.wiring import doctor, heap, logging_setup
from bot.wiring.runtime import Running, running

EXIT_CONFIG = 2


def version() -> str:
    try:
        return metadata.version("relaydance-slack-bot")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot",
        description="RelayDance Slack bot: answers in Slack threads and DMs, streamed from RelayDance.",
        epilog="Settings come from the environment and from .env in the current directory "
        "(see README.md, Settings).",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the bot (the default)")
    sub.add_parser(
        "doctor",
        help="check every setting, Slack's tokens and scopes, RelayDance's key, URL and model, and Redis",
    )
    sub.add_parser("healthcheck", help="exit 0 when the running bot's /healthz answers 200 (for containers)")
    return p


def print_config_error(exc: ConfigError) -> None:
    problems = exc.problems if isinstance(exc, ConfigErrors) else [exc]
    for problem in problems:
        print(f"configuration error: {problem}", file=sys.stderr)


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM. A signal during start-up abandons it at once; once running, the
    first signal drains (health turns 503, answers in flight get SHUTDOWN_GRACE) and a second one
    cuts the drain short."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None  # noqa: S101 - always true inside asyncio.run
    stop = asyncio.Event()
    started: list[Running] = []  # the running bot, once start-up is done

    def on_signal() -> None:
        if started and not stop.is_set():
            started[0].begin_shutdown()
            stop.set()
        else:
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        async with running(settings) as bot:
            heap.settle()  # what start-up made lives as long as the process
            started.append(bot)
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run(settings: Settings) -> int:
    logging_setup.configure(settings.log_level, settings.secrets, json_format=settings.log_format == "json")
    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_CONFIG
    except asyncio.CancelledError:
        return 0  # a signal during start-up (or a second one during the drain)
    return 0


def run_doctor(env: Mapping[str, str]) -> int:
    from handlers.registry import BOT_SCOPES  # the scopes the handlers' calls need

    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        text, status = doctor.report(doctor.settings_checks(exc))
        print(text)
        return status
    text, status = doctor.report(asyncio.run(doctor.diagnose(settings, required_scopes=BOT_SCOPES)))
    print(text)
    return status


def healthcheck(env: Mapping[str, str]) -> int:
    """GET /healthz where the bot serves it: HEALTH_PORT when set, else PORT (HTTP mode)."""
    port = (env.get("HEALTH_PORT") or "").strip() or (env.get("PORT") or "").strip() or "3000"
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback http only
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The .env of the directory the bot is started from (python-dotenv's default search starts
    # at this file's folder instead); real environment variables win over it.
    load_dotenv(Path.cwd() / ".env", override=False)
    env = os.environ
    if args.command == "doctor":
        return run_doctor(env)
    if args.command == "healthcheck":
        return healthcheck(env)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_CONFIG
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
