"""Settings: defaults, validation that names the variable, and secrets that never print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import ConfigErrors, Settings
from bot.stores.budget import tiers_from
from bot.text.rates import DEFAULT_TIERS, POST, UPDATE, Tier

EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"

BASE = {
    "SLACK_BOT_TOKEN": "xoxb-secret-bot-token",
    "SLACK_SIGNING_SECRET": "signing-secret-value",
    "RELAYDANCE_API_KEY": "rd-secret-api-key",
}


def test_defaults() -> None:
    s = Settings.from_env(BASE)
    assert s.relaydance_base_url == "https://relaydance.com/v1"
    assert s.relaydance_model == "grok-4.3"
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.port == 3000 and s.redis_url is None and not s.socket_mode
    assert s.edit_interval == 0.25 and s.followups_without_mention and not s.answer_other_bots


def test_values_are_parsed() -> None:
    s = Settings.from_env(
        {
            **BASE,
            "SLACK_APP_TOKEN": "xapp-1-abc",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "RELAYDANCE_BASE_URL": "http://127.0.0.1:8/v1/",
            "TEMPERATURE": "0.3",
            "MAX_TOKENS": "800",
            "FOLLOWUPS_WITHOUT_MENTION": "off",
            "REDIS_URL": "redis://localhost:6379/2",
        }
    )
    assert s.socket_mode and s.slack_api_url == "http://127.0.0.1:9/api/"
    assert s.relaydance_base_url == "http://127.0.0.1:8/v1"
    assert s.temperature == 0.3 and s.max_tokens == 800 and not s.followups_without_mention


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_SIGNING_SECRET": " "}, "SLACK_SIGNING_SECRET"),
        ({"RELAYDANCE_API_KEY": ""}, "RELAYDANCE_API_KEY"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN"),
        ({"RELAYDANCE_BASE_URL": "relaydance.com/v1"}, "RELAYDANCE_BASE_URL"),
        ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"TEMPERATURE": "3"}, "TEMPERATURE"),
        ({"TEMPERATURE": "warm"}, "TEMPERATURE"),
        ({"MAX_TOKENS": "0"}, "MAX_TOKENS"),
        ({"PORT": "70000"}, "PORT"),
        ({"EDIT_INTERVAL": "0"}, "EDIT_INTERVAL"),
        ({"FOLLOWUPS_WITHOUT_MENTION": "maybe"}, "FOLLOWUPS_WITHOUT_MENTION"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
        ({"KNOWLEDGE_CHANNELS": "C1,#ops"}, "KNOWLEDGE_CHANNELS"),
        ({"KNOWLEDGE_THREADS": "11"}, "KNOWLEDGE_THREADS"),
        ({"RELAYDANCE_THINKING_TIMEOUT": "0.5"}, "RELAYDANCE_THINKING_TIMEOUT"),
        ({"RELAYDANCE_THINKING_TIMEOUT": "long"}, "RELAYDANCE_THINKING_TIMEOUT"),
        ({"TOOLS": "sometimes"}, "TOOLS"),
        ({"KNOWLEDGE_INDEX": "elastic"}, "KNOWLEDGE_INDEX"),
        ({"MAX_TOOL_STEPS": "0"}, "MAX_TOOL_STEPS"),
        ({"MAX_TOOL_STEPS": "11"}, "MAX_TOOL_STEPS"),
        ({"FILE_TEXT_MAX_BYTES": "-1"}, "FILE_TEXT_MAX_BYTES"),
        ({"FILE_TEXT_MAX_BYTES": "2000000"}, "FILE_TEXT_MAX_BYTES"),
        ({"FILE_TEXT_MAX_BYTES": "64k"}, "FILE_TEXT_MAX_BYTES"),
        ({"IMAGE_INPUT": "maybe"}, "IMAGE_INPUT"),
    ],
)
def test_bad_values_name_the_variable(changes: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, **changes})
    assert caught.value.name == name
    assert str(caught.value).startswith(name)


def test_the_thinking_cap_defaults_to_three_minutes_and_can_be_set() -> None:
    assert Settings.from_env(BASE).thinking_timeout == 180.0
    assert Settings.from_env({**BASE, "RELAYDANCE_THINKING_TIMEOUT": "300"}).thinking_timeout == 300.0
    with pytest.raises(ConfigError, match=r"RELAYDANCE_THINKING_TIMEOUT: must be between 1 and 3600"):
        Settings.from_env({**BASE, "RELAYDANCE_THINKING_TIMEOUT": "0"})


def test_file_text_cap_defaults_to_64_kib_and_zero_turns_it_off() -> None:
    assert Settings.from_env(BASE).file_text_max_bytes == 65_536
    assert Settings.from_env({**BASE, "FILE_TEXT_MAX_BYTES": "0"}).file_text_max_bytes == 0
    assert Settings.from_env(BASE).image_input is False
    assert Settings.from_env({**BASE, "IMAGE_INPUT": "true"}).image_input is True


def test_secrets_never_print() -> None:
    s = Settings.from_env({**BASE, "SLACK_APP_TOKEN": "xapp-1-app-secret"})
    shown = repr(s) + str(s)
    for secret in (*BASE.values(), "xapp-1-app-secret"):
        assert secret not in shown
    assert s.relaydance_api_key.reveal() == "rd-secret-api-key"


def test_a_bad_secret_is_named_but_not_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, "SLACK_BOT_TOKEN": "xoxb-has space"})
    assert "has space" not in str(caught.value)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ConfigErrors) as caught:
        Settings.from_env(
            {"SLACK_SIGNING_SECRET": "signing-secret-value", "TEMPERATURE": "hot", "PORT": "-1"}
        )
    names = [problem.name for problem in caught.value.problems]
    assert names == ["SLACK_BOT_TOKEN", "RELAYDANCE_API_KEY", "PORT", "TEMPERATURE"]
    assert str(caught.value).splitlines()[0] == "SLACK_BOT_TOKEN: is not set"
    assert len(str(caught.value).splitlines()) == 4
    assert caught.value.name == "SLACK_BOT_TOKEN"  # still a ConfigError naming the first one


def test_the_example_files_placeholders_are_refused_by_name() -> None:
    example = {
        key.strip(): value.strip()
        for line in EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
        for key, value in [line.split("=", 1)]
    }
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "RELAYDANCE_API_KEY"} <= set(example)
    with pytest.raises(ConfigErrors) as caught:
        Settings.from_env(example)
    named = {problem.name for problem in caught.value.problems}
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "RELAYDANCE_API_KEY"} <= named
    assert "example value" in str(caught.value)


@pytest.mark.parametrize("value", ["xapp-your-app-level-token", "xapp-changeme"])
def test_a_placeholder_app_token_is_refused(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, "SLACK_APP_TOKEN": value})
    assert caught.value.name == "SLACK_APP_TOKEN"


def test_operations_settings() -> None:
    s = Settings.from_env({**BASE, "SHUTDOWN_GRACE": "40", "HEALTH_PORT": "8080", "LOG_FORMAT": "json"})
    assert (s.shutdown_grace, s.health_port, s.log_format) == (40.0, 8080, "json")
    d = Settings.from_env(BASE)
    assert (d.shutdown_grace, d.health_port, d.log_format) == (25.0, None, "text")
    for name, bad in (("SHUTDOWN_GRACE", "-1"), ("HEALTH_PORT", "99999"), ("LOG_FORMAT", "xml")):
        with pytest.raises(ConfigError) as caught:
            Settings.from_env({**BASE, name: bad})
        assert caught.value.name == name


def test_a_redis_password_counts_as_a_secret() -> None:
    s = Settings.from_env({**BASE, "REDIS_URL": "redis://:hunter2-redis@redis:6379/0"})
    assert "hunter2-redis" in s.secrets


def test_every_setting_is_in_the_example_file_and_the_readme() -> None:
    """A variable the code reads but the docs never name is one nobody can find."""
    source = (Path(__file__).resolve().parents[3] / "bot" / "settings.py").read_text()
    names = set(re.findall(r'\br\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', source))
    assert {"SLACK_BOT_TOKEN", "SHUTDOWN_GRACE", "LOG_FORMAT"} <= names
    example = EXAMPLE.read_text()
    readme = (EXAMPLE.parent / "README.md").read_text()
    missing_example = sorted(n for n in names if not re.search(rf"^#? ?{n}=", example, re.MULTILINE))
    missing_readme = sorted(n for n in names if f"`{n}`" not in readme)
    assert missing_example == [], "add to .env.example"
    assert missing_readme == [], "add to README's settings table"


def test_knowledge_settings() -> None:
    s = Settings.from_env({**BASE, "KNOWLEDGE_CHANNELS": " C1, G22 ,", "KNOWLEDGE_THREADS": "0"})
    assert s.knowledge_channels == ("C1", "G22")
    assert s.knowledge_threads == 0
    assert Settings.from_env(BASE).knowledge_channels == ()
    assert (s.tools, s.max_tool_steps) == ("auto", 4)
    tools = Settings.from_env({**BASE, "TOOLS": "Off", "MAX_TOOL_STEPS": "2"})
    assert (tools.tools, tools.max_tool_steps) == ("off", 2)
    assert s.knowledge_index == "auto"
    assert Settings.from_env({**BASE, "KNOWLEDGE_INDEX": "Search"}).knowledge_index == "search"
    assert Settings.from_env({**BASE, "KNOWLEDGE_INDEX": "redis"}).knowledge_index == "redis"


def test_slack_rates_default_to_the_tiers_and_can_be_changed() -> None:
    assert tiers_from(Settings.from_env(BASE)) == DEFAULT_TIERS
    s = Settings.from_env({**BASE, "SLACK_RATE_UPDATE": "100/60", "SLACK_RATE_POST": "2/1,4"})
    assert tiers_from(s)[UPDATE] == Tier(100, 60, 40) and tiers_from(s)[POST] == Tier(2, 1, 4)


@pytest.mark.parametrize("value", ["50", "50/0", "x/60", "50/60,0", "-1/60", "50/60,many"])
def test_a_bad_slack_rate_is_named(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, "SLACK_RATE_APPEND": value})
    assert caught.value.name == "SLACK_RATE_APPEND"


def test_limits_and_controls_have_sane_defaults() -> None:
    s = Settings.from_env(BASE)
    assert (s.max_concurrent_answers, s.answer_queue_size) == (1000, 1000)
    assert s.max_summary_parts == 20 and s.regenerate_per_minute == 5
    assert s.max_stored_message_chars == 40_000
    assert s.allowed_channels == s.allowed_users == s.blocked_channels == s.blocked_users == ()
    assert s.daily_tokens_per_user is None and s.daily_tokens_per_channel is None
    assert s.redact and s.redact_patterns == ()


def test_limits_and_controls_are_parsed() -> None:
    s = Settings.from_env(
        {
            **BASE,
            "MAX_CONCURRENT_ANSWERS": "3",
            "ANSWER_QUEUE_SIZE": "0",
            "REDIS_MAX_CONNECTIONS": "250",
            "MAX_SUMMARY_PARTS": "4",
            "REGENERATE_PER_MINUTE": "2",
            "MAX_STORED_MESSAGE_CHARS": "5000",
            "ALLOWED_CHANNELS": "C1, G2,D3",
            "ALLOWED_USERS": "U1",
            "BLOCKED_CHANNELS": "C9",
            "BLOCKED_USERS": "U8,W7",
            "DAILY_TOKENS_PER_USER": "10000",
            "DAILY_TOKENS_PER_CHANNEL": "50000",
            "REDACT": "false",
            "REDACT_PATTERNS": r"ACME-[0-9]{6} ;; secret=\S+",
        }
    )
    assert (s.max_concurrent_answers, s.answer_queue_size, s.max_summary_parts) == (3, 0, 4)
    assert s.redis_max_connections == 250
    assert (s.regenerate_per_minute, s.max_stored_message_chars) == (2, 5000)
    assert s.allowed_channels == ("C1", "G2", "D3") and s.allowed_users == ("U1",)
    assert s.blocked_channels == ("C9",) and s.blocked_users == ("U8", "W7")
    assert (s.daily_tokens_per_user, s.daily_tokens_per_channel) == (10_000, 50_000)
    assert not s.redact and s.redact_patterns == ("ACME-[0-9]{6}", r"secret=\S+")


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"MAX_CONCURRENT_ANSWERS": "0"}, "MAX_CONCURRENT_ANSWERS"),
        ({"ANSWER_QUEUE_SIZE": "-1"}, "ANSWER_QUEUE_SIZE"),
        ({"REDIS_MAX_CONNECTIONS": "1"}, "REDIS_MAX_CONNECTIONS"),
        ({"MAX_SUMMARY_PARTS": "0"}, "MAX_SUMMARY_PARTS"),
        ({"REGENERATE_PER_MINUTE": "many"}, "REGENERATE_PER_MINUTE"),
        ({"MAX_STORED_MESSAGE_CHARS": "10"}, "MAX_STORED_MESSAGE_CHARS"),
        ({"ALLOWED_CHANNELS": "general"}, "ALLOWED_CHANNELS"),
        ({"BLOCKED_CHANNELS": "C1,#random"}, "BLOCKED_CHANNELS"),
        ({"ALLOWED_USERS": "ada"}, "ALLOWED_USERS"),
        ({"BLOCKED_USERS": "U1,grace"}, "BLOCKED_USERS"),
        ({"DAILY_TOKENS_PER_USER": "0"}, "DAILY_TOKENS_PER_USER"),
        ({"DAILY_TOKENS_PER_CHANNEL": "lots"}, "DAILY_TOKENS_PER_CHANNEL"),
        ({"REDACT": "sometimes"}, "REDACT"),
        ({"REDACT_PATTERNS": "ok ;; [unclosed"}, "REDACT_PATTERNS"),
        ({"REDACT_PATTERNS": "a*"}, "REDACT_PATTERNS"),
    ],
)
def test_bad_limits_name_the_variable(changes: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, **changes})
    assert caught.value.name == name


OAUTH = {
    "SLACK_CLIENT_ID": "1111.2222",
    "SLACK_CLIENT_SECRET": "client-secret-abc",
    "SLACK_STATE_SECRET": "state-secret-0123456789",
}


def test_oauth_installs_need_all_three_and_make_the_bot_token_optional() -> None:
    without_token = {k: v for k, v in BASE.items() if k != "SLACK_BOT_TOKEN"}
    s = Settings.from_env({**without_token, **OAUTH})
    assert s.oauth and s.slack_bot_token is None and s.slack_client_id == "1111.2222"
    assert {"client-secret-abc", "state-secret-0123456789"} <= set(s.secrets)
    assert "client-secret-abc" not in repr(s)
    assert s.slack_authorize_url == "https://slack.com/oauth/v2/authorize"
    assert not Settings.from_env(BASE).oauth


@pytest.mark.parametrize("given", [("SLACK_CLIENT_ID",), ("SLACK_CLIENT_SECRET", "SLACK_STATE_SECRET")])
def test_a_partial_oauth_set_names_every_missing_variable(given: tuple[str, ...]) -> None:
    with pytest.raises(ConfigErrors) as caught:
        Settings.from_env({**BASE, **{name: OAUTH[name] for name in given}})
    missing = sorted(set(OAUTH) - set(given))
    assert sorted(p.name for p in caught.value.problems) == missing
    assert all("OAuth installs need all of" in p.problem for p in caught.value.problems)


def test_oauth_refuses_socket_mode_and_a_short_state_secret() -> None:
    with pytest.raises(ConfigErrors) as caught:
        Settings.from_env(
            {**BASE, **OAUTH, "SLACK_STATE_SECRET": "short", "SLACK_APP_TOKEN": "xapp-1-A1-real-token"}
        )
    assert sorted(p.name for p in caught.value.problems) == ["SLACK_APP_TOKEN", "SLACK_STATE_SECRET"]


def test_the_redirect_uri_must_be_a_url() -> None:
    s = Settings.from_env(
        {**BASE, **OAUTH, "SLACK_REDIRECT_URI": "https://bot.example.com/slack/oauth_redirect"}
    )
    assert s.slack_redirect_uri == "https://bot.example.com/slack/oauth_redirect"
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, **OAUTH, "SLACK_REDIRECT_URI": "bot.example.com"})
    assert caught.value.name == "SLACK_REDIRECT_URI"


def test_the_install_page_sits_beside_the_web_api() -> None:
    s = Settings.from_env({**BASE, "SLACK_API_URL": "http://127.0.0.1:9/api/"})
    assert s.slack_authorize_url == "http://127.0.0.1:9/oauth/v2/authorize"
