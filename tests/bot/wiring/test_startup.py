"""Start-up: one clear line for a bad setting, a refused token named, and the embedded Redis."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.summaries import MAP_CONCURRENCY
from bot.errors import ConfigError
from bot.settings import Secret
from bot.wiring.logging_setup import RedactSecrets
from bot.wiring.runtime import running, upstream_connections
from tests.e2e_harness import bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention
from tests.fakes.slack import FakeSlack

ROOT = Path(__file__).resolve().parents[3]


def run_bot(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_every_missing_setting_is_named_at_once(tmp_path: Path) -> None:
    result = run_bot(tmp_path, {})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: SLACK_BOT_TOKEN: is not set",
        "configuration error: SLACK_SIGNING_SECRET: is not set",
        "configuration error: RELAYDANCE_API_KEY: is not set",
    ]


def test_dotenv_is_read_and_a_bad_value_is_named_without_secrets(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-dotenv-secret\nSLACK_SIGNING_SECRET=sign-secret\n"
        "RELAYDANCE_API_KEY=rd-secret-key\nTEMPERATURE=hot\n"
    )
    result = run_bot(tmp_path, {})
    assert result.returncode == 2
    assert result.stderr.strip() == "configuration error: TEMPERATURE: must be a number, got 'hot'"
    for secret in ("xoxb-dotenv-secret", "sign-secret", "rd-secret-key"):
        assert secret not in result.stderr + result.stdout


async def test_a_refused_bot_token_is_named(redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    async with FakeSlack(bot_token="xoxb-the-real-one") as slack, FakeRelayDance() as relay:
        settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
        wrong = replace(settings, slack_bot_token=Secret("xoxb-wrong-token"))
        with pytest.raises(ConfigError) as caught:
            async with running(wrong):
                pass
        assert caught.value.name == "SLACK_BOT_TOKEN" and "invalid_auth" in str(caught.value)
        assert "xoxb-wrong-token" not in str(caught.value)


async def test_knowledge_index_search_without_the_engine_is_named(redis_url: str, redis_prefix: str) -> None:
    async with FakeSlack() as slack, FakeRelayDance() as relay:
        settings = make_settings(
            slack, relay, redis_url=redis_url, prefix=redis_prefix, knowledge_index="search"
        )
        with pytest.raises(ConfigError) as caught:
            async with running(settings):
                pass
        assert caught.value.name == "KNOWLEDGE_INDEX" and "Redis 8" in str(caught.value)


async def test_without_redis_url_an_embedded_redis_is_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeSlack() as slack, FakeRelayDance() as relay:
        settings = make_settings(slack, relay, redis_url="", prefix="emb", state_dir=tmp_path / "state")
        settings = replace(settings, redis_url=None)
        with caplog.at_level(logging.INFO, logger="bot.wiring.embedded_redis"):
            async with bot_under_test(slack, relay, settings) as bot:
                assert any("embedded redis-server" in r.getMessage() for r in caplog.records)
                relay.push(Script.stream(["ok"]))
                await bot.send(app_mention(text="<@UBOT> hi", user="U1"))
                await bot.answered(1)
                assert (await bot.http.get(f"{bot.url}/healthz")).status_code == 200
        assert (tmp_path / "state" / "redis" / "appendonlydir").exists()  # data kept in the state folder


def test_log_records_are_scrubbed_of_secrets(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    handler_filter = RedactSecrets(["xoxb-very-secret"])
    record = logger.makeRecord("t", logging.INFO, __file__, 1, "token is %s", ("xoxb-very-secret",), None)
    assert handler_filter.filter(record)
    assert record.getMessage() == "token is ********"


def test_every_admitted_answer_has_an_upstream_connection(slack: FakeSlack, relay: FakeRelayDance) -> None:
    settings = make_settings(
        slack, relay, redis_url="redis://unused", prefix="p", max_concurrent_answers=1000
    )
    # Each running answer streams one request; a summary reads MAP_CONCURRENCY parts at once.
    assert upstream_connections(settings) == 1000 * MAP_CONCURRENCY
