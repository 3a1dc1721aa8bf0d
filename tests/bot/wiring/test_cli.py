"""`python -m bot`: --help and --version without starting anything, and `doctor` on good and bad set-ups."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.wiring.cli import bot_env, run
from tests.e2e_harness import bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.slack import FakeSlack


async def test_help_describes_the_commands_and_starts_nothing(tmp_path: Path) -> None:
    result = await run(["--help"], {}, tmp_path)
    assert result.returncode == 0
    for word in ("doctor", "healthcheck", "--version", "run"):
        assert word in result.stdout
    assert result.stderr == ""


async def test_version(tmp_path: Path) -> None:
    result = await run(["--version"], {}, tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("python -m bot ") and result.stdout.strip().split()[-1][0].isdigit()


async def test_an_unknown_command_is_refused(tmp_path: Path) -> None:
    result = await run(["frobnicate"], {}, tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr


async def test_doctor_passes_a_good_set_up(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = bot_env(slack, relay, redis_url, redis_prefix, SLACK_APP_TOKEN=slack.app_token)
    result = await run(["doctor"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith("✗")]
    for expected in (
        "✓ Slack bot token",
        "✓ Slack scopes",
        "✓ Socket Mode token",
        "✓ RelayDance key",
        "✓ RelayDance URL",
        "✓ RelayDance model",
        "✓ Redis (REDIS_URL): reachable, version",
    ):
        assert any(line.startswith(expected) for line in lines), (expected, lines)
    # The test server keeps nothing on disk: said, but not a failure.
    assert any(line.startswith("⚠ Redis persistence") for line in lines)
    assert lines[-1] == "everything checked is in order"
    for secret in (slack.bot_token, slack.app_token, relay.api_key):
        assert secret not in result.stdout + result.stderr


async def test_doctor_names_every_problem_with_its_fix(
    slack: FakeSlack, relay: FakeRelayDance, redis_prefix: str, tmp_path: Path
) -> None:
    slack.scopes = "chat:write,commands"
    env = bot_env(
        slack,
        relay,
        "redis://127.0.0.1:1/0",  # nothing listens there
        redis_prefix,
        SLACK_APP_TOKEN="xapp-1-not-the-apps-token",
        RELAYDANCE_MODEL="gpt-nonexistent",
    )
    result = await run(["doctor"], env, tmp_path)
    assert result.returncode == 1
    failed = {line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("✗")}
    assert failed == {
        "✗ Slack scopes",
        "✗ Socket Mode token (SLACK_APP_TOKEN)",
        "✗ RelayDance model (RELAYDANCE_MODEL)",
        "✗ Redis (REDIS_URL)",
    }, result.stdout
    scopes = next(line for line in result.stdout.splitlines() if line.startswith("✗ Slack scopes"))
    assert "app_mentions:read" in scopes and "— fix:" in scopes and "chat:write," not in scopes
    model = next(line for line in result.stdout.splitlines() if line.startswith("✗ RelayDance model"))
    assert "grok-4.3" in model  # the fix lists what the key may use
    assert result.stdout.splitlines()[-1] == "4 problem(s) found"


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        (
            {"SLACK_BOT_TOKEN": "xoxb-wrong"},
            "✗ Slack bot token (SLACK_BOT_TOKEN): refused by Slack (invalid_auth)",
        ),
        ({"RELAYDANCE_API_KEY": "rd-wrong-key"}, "✗ RelayDance key (RELAYDANCE_API_KEY): refused"),
        ({"RELAYDANCE_BASE_URL": "http://127.0.0.1:1/v1"}, "✗ RelayDance URL (RELAYDANCE_BASE_URL)"),
    ],
)
async def test_doctor_on_a_wrong_key_or_url(
    slack: FakeSlack,
    relay: FakeRelayDance,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
    change: dict[str, str],
    failing: str,
) -> None:
    result = await run(["doctor"], {**bot_env(slack, relay, redis_url, redis_prefix), **change}, tmp_path)
    assert result.returncode == 1
    assert any(line.startswith(failing) for line in result.stdout.splitlines()), result.stdout
    assert "wrong" not in result.stdout  # the refused values are secrets too


async def test_doctor_lists_every_bad_setting(tmp_path: Path) -> None:
    result = await run(["doctor"], {"SLACK_BOT_TOKEN": "xoxb-your-bot-token", "PORT": "http"}, tmp_path)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    assert [line.split(":")[0] for line in failed] == [
        "✗ setting SLACK_BOT_TOKEN",
        "✗ setting SLACK_SIGNING_SECRET",
        "✗ setting RELAYDANCE_API_KEY",
        "✗ setting PORT",
    ]
    assert "example value" in failed[0]


async def test_healthcheck_follows_the_bots_health_in_both_modes(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """What the container's HEALTHCHECK runs: 0 while healthy, 1 once draining or gone."""
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, health_port=0)
    async with bot_under_test(slack, relay, settings) as bot:
        assert bot.running.health_url is not None
        health_port = bot.running.health_url.rsplit(":", 1)[1]
        http_port = bot.url.rsplit(":", 1)[1]
        assert (await run(["healthcheck"], {"HEALTH_PORT": health_port}, tmp_path)).returncode == 0
        assert (await run(["healthcheck"], {"PORT": http_port}, tmp_path)).returncode == 0  # HTTP mode
        bot.running.begin_shutdown()
        refused = await run(["healthcheck"], {"HEALTH_PORT": health_port}, tmp_path)
        assert refused.returncode == 1 and "unhealthy" in refused.stderr
    gone = await run(["healthcheck"], {"HEALTH_PORT": health_port}, tmp_path)
    assert gone.returncode == 1
