"""Run `python -m bot …` as a real process, from the test's event loop (the fakes keep serving)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.slack import FakeSlack

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def bot_env(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, prefix: str, **extra: str
) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": "test-signing-secret-42",
        "SLACK_API_URL": slack.api_url,
        "RELAYDANCE_API_KEY": relay.api_key,
        "RELAYDANCE_BASE_URL": relay.base_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "HOST": "127.0.0.1",
        **extra,
    }


def _coverage_env() -> dict[str, str]:
    """Coverage's variables, so a measured test run measures the process too (nothing else leaks in)."""
    return {key: value for key, value in os.environ.items() if key.startswith(("COVERAGE", "COV_CORE"))}


async def start(args: list[str], env: Mapping[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env={
            **_coverage_env(),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, *, timeout: float = 30.0) -> Finished:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    except TimeoutError:
        process.send_signal(signal.SIGKILL)
        await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode(), loop.time() - began)


async def run(args: list[str], env: Mapping[str, str], cwd: Path, *, timeout: float = 30.0) -> Finished:  # noqa: ASYNC109
    return await finish(await start(args, env, cwd), timeout=timeout)
