"""`python -m bot`: the only place that loads `.env` and reads `os.environ`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from dotenv import load_dotenv

from bot.errors import ConfigError
from bot.settings import ConfigErrors, Settings
from bot.wiring import logging_setup
from bot.wiring.runtime import running


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with running(settings):
        await stop.wait()


def print_config_error(exc: ConfigError) -> None:
    for problem in exc.problems if isinstance(exc, ConfigErrors) else [exc]:
        print(f"configuration error: {problem}", file=sys.stderr)


def main() -> int:
    # The .env of the directory the bot is started from (python-dotenv's default search starts
    # at this file's folder instead); real environment variables win over it.
    load_dotenv(Path.cwd() / ".env", override=False)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        print_config_error(exc)
        return 2
    logging_setup.configure(settings.log_level, settings.secrets, json_format=settings.log_format == "json")
    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        print_config_error(exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
