"""`doctor` with OAuth installs: the client id and secret checked with Slack (a made-up code must
be refused as `invalid_code`), no bot token needed, and a wrong id or secret named with its fix."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.settings import Secret, Settings
from bot.wiring import doctor
from handlers.registry import BOT_SCOPES
from tests.bot.wiring.cli import bot_env, run
from tests.e2e_harness import make_settings
from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.slack import FakeSlack
from tests.fakes.slack.installs import CLIENT_ID, CLIENT_SECRET

STATE_SECRET = "doctor-state-secret-0123456789"


def oauth(slack: FakeSlack, relay: FakeRelayDance, redis_url: str, prefix: str) -> Settings:
    return make_settings(
        slack,
        relay,
        redis_url=redis_url,
        prefix=prefix,
        slack_bot_token=None,
        slack_client_id=CLIENT_ID,
        slack_client_secret=Secret(CLIENT_SECRET),
        slack_state_secret=Secret(STATE_SECRET),
    )


async def test_doctor_runs_the_oauth_set_up_and_says_so(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = bot_env(
        slack,
        relay,
        redis_url,
        redis_prefix,
        SLACK_BOT_TOKEN="",
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
        SLACK_STATE_SECRET=STATE_SECRET,
    )
    result = await run(["doctor"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "OAuth installs for many workspaces" in lines[0]
    assert any(line.startswith("✓ Slack bot token (SLACK_BOT_TOKEN): not set") for line in lines)
    assert any(line.startswith("✓ Slack OAuth client") and "/slack/install" in line for line in lines)
    assert [c.error for c in slack.calls_to("oauth.v2.access")] == ["invalid_code"]
    for secret in (CLIENT_SECRET, STATE_SECRET):
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"slack_client_id": "999.999"}, "SLACK_CLIENT_ID"),
        ({"slack_client_secret": Secret("wrong-secret-0000000000")}, "SLACK_CLIENT_SECRET"),
    ],
)
async def test_a_wrong_client_id_or_secret_is_named(
    slack: FakeSlack,
    relay: FakeRelayDance,
    redis_url: str,
    redis_prefix: str,
    change: dict[str, object],
    named: str,
) -> None:
    settings = replace(oauth(slack, relay, redis_url, redis_prefix), **change)  # type: ignore[arg-type]
    checks = await doctor.diagnose(settings, required_scopes=BOT_SCOPES)
    wrong = [c for c in checks if c.mark is doctor.Mark.BAD]
    assert len(wrong) == 1 and named in wrong[0].what and "App Credentials" in wrong[0].fix
    _, status = doctor.report(checks)
    assert status == 1


async def test_an_oauth_set_up_with_a_bot_token_checks_it_too(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    settings = replace(oauth(slack, relay, redis_url, redis_prefix), slack_bot_token=Secret(slack.bot_token))
    checks = await doctor.diagnose(settings, required_scopes=BOT_SCOPES)
    assert [c.mark for c in checks if c.what.startswith("Slack")] == [doctor.Mark.OK] * 3
    assert slack.calls_to("auth.test") and slack.calls_to("oauth.v2.access")
