"""Typed, validated settings built once from an environment mapping.

Nothing here reads `os.environ` itself: `bot.__main__` passes the environment in, so tests build
settings from plain dicts and nothing depends on import order. Every problem raises `ConfigError`
naming the variable; secret values never reach a message, a `repr` or a log line. `from_env` reads
every variable before it raises, so one run names every problem at once (`ConfigErrors`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from bot.errors import ConfigError

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant in a Slack workspace. Answer clearly and concisely, "
    "using Markdown where it helps. Messages from people are prefixed with their name."
)

PATTERN_SEPARATOR = ";;"
"""Separates the regular expressions of REDACT_PATTERNS (commas and bars occur inside regexes)."""

T = TypeVar("T")
Rate = tuple[float, float, float]  # calls, per seconds, burst

# Values `.env.example` ships with (and their usual shapes): a copied example file must not pass as
# configured, or the first sign of it is Slack or RelayDance refusing the bot much later.
PLACEHOLDER_WORDS = ("your-", "your_", "changeme", "change-me", "replace-me", "placeholder", "xxxxxxxx")


class ConfigErrors(ConfigError):
    """Every problem `Settings.from_env` found, in the order the variables are read.

    `name` and the message's first line are those of the first problem, so a caller that handles a
    single ConfigError still reads something true."""

    def __init__(self, problems: list[ConfigError]) -> None:
        self.problems = problems
        super().__init__(problems[0].name, problems[0].problem)

    def __str__(self) -> str:
        return "\n".join(f"{p.name}: {p.problem}" for p in self.problems)


class Secret:
    """A string that will not print itself: `repr`/`str` show only that it is set."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, kw_only=True)
class Settings:
    slack_bot_token: Secret | None = None  # None only with OAuth installs (each workspace's own token)
    slack_signing_secret: Secret
    slack_app_token: Secret | None = None
    slack_api_url: str = "https://slack.com/api/"
    # OAuth installs for many workspaces: all three set, or none (one workspace, SLACK_BOT_TOKEN).
    slack_client_id: str | None = None
    slack_client_secret: Secret | None = None
    slack_state_secret: Secret | None = None
    slack_redirect_uri: str | None = None  # only needed when the app lists several redirect URLs
    relaydance_api_key: Secret
    relaydance_base_url: str = "https://relaydance.com/v1"
    relaydance_model: str = "grok-4.3"
    redis_url: str | None = None
    redis_prefix: str = "rdbot"
    redis_timeout: float = 0.5
    redis_max_connections: int = 100
    state_dir: Path = Path(".state")
    port: int = 3000
    host: str = "0.0.0.0"  # noqa: S104 - a container's service port must listen on all interfaces
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    temperature: float | None = None
    max_tokens: int | None = None
    edit_interval: float = 0.25  # the shortest gap between intermediate edits of one message
    history_budget_tokens: int = 6000
    history_max_messages: int = 500
    history_ttl_days: float = 30.0
    followups_without_mention: bool = True
    answer_other_bots: bool = False
    connect_timeout: float = 5.0
    first_token_timeout: float = 60.0
    idle_timeout: float = 30.0
    thinking_timeout: float = 180.0  # how long a reasoning model may think before its answer starts
    file_text_max_bytes: int = 65_536  # a shared text file's contents the model sees (0: names only)
    image_input: bool = False  # a question's own images go to the model (which must accept them)
    log_level: str = "INFO"
    admin_users: tuple[str, ...] = ()
    ask_context_messages: int = 20
    shutdown_grace: float = 25.0
    health_port: int | None = None
    log_format: str = "text"
    # Slack's per-method budget, (calls, per seconds, burst): see bot.text.rates and the README.
    slack_rate_update: Rate = (50.0, 60.0, 40.0)
    slack_rate_post: Rate = (60.0, 60.0, 20.0)
    slack_rate_stream: Rate = (20.0, 60.0, 20.0)
    slack_rate_append: Rate = (100.0, 60.0, 30.0)
    # Slack's native streams (chat.startStream): "auto" when the budget allows, "on" always
    # (waiting for the budget), "off" post-and-edit only. See bot.slack.native.
    slack_native_streaming: str = "auto"
    secrets: tuple[str, ...] = field(default=(), repr=False)
    knowledge_channels: tuple[str, ...] = ()  # channels indexed for team knowledge; () = all the bot is in
    knowledge_threads: int = 4  # past threads put in a prompt; 0 turns team knowledge off
    # The index's backend: "auto" the Redis Query Engine when the server has it, else plain
    # Redis; "redis" plain always; "search" the engine (start-up stops without it).
    knowledge_index: str = "auto"
    tools: str = "auto"  # "auto": offer the model search tools with team knowledge; "off": never
    max_tool_steps: int = 4  # rounds of tool calls in one answer before it must answer
    knowledge_backfill_days: int = 0  # on joining a channel, index this many days of its past; 0: off
    knowledge_backfill_pace: float = 60.0  # seconds between history reads, per method and workspace
    max_concurrent_answers: int = 1000  # measured: one process on 2 cores carries 1,000 streams
    answer_queue_size: int = 1000
    max_summary_parts: int = 20
    regenerate_per_minute: int = 5
    max_stored_message_chars: int = 40_000
    allowed_channels: tuple[str, ...] = ()
    allowed_users: tuple[str, ...] = ()
    blocked_channels: tuple[str, ...] = ()
    blocked_users: tuple[str, ...] = ()
    daily_tokens_per_user: int | None = None
    daily_tokens_per_channel: int | None = None
    redact: bool = True
    redact_patterns: tuple[str, ...] = ()

    @property
    def history_ttl_seconds(self) -> int:
        return int(self.history_ttl_days * 86_400)

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def oauth(self) -> bool:
        """Many workspaces install the app through /slack/install (Bolt's OAuth flow)."""
        return self.slack_client_id is not None

    @property
    def slack_authorize_url(self) -> str:
        """Slack's install page, beside its Web API (`…/api/` → `…/oauth/v2/authorize`)."""
        root = self.slack_api_url.rstrip("/").removesuffix("/api")
        return f"{root}/oauth/v2/authorize"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from `env`; raise ConfigErrors naming every bad variable."""
        r = _Reader(env)
        client_id, client_secret, state_secret = _oauth(r)
        oauth = client_id is not None
        bot_token = r.optional_secret("SLACK_BOT_TOKEN", prefix="xoxb-")
        if bot_token is None and not oauth and not any(e.name == "SLACK_BOT_TOKEN" for e in r.errors):
            r._fail("SLACK_BOT_TOKEN", "is not set", None)
        signing_secret = r.secret("SLACK_SIGNING_SECRET")
        app_token = r.optional_secret("SLACK_APP_TOKEN", prefix="xapp-")
        if oauth and app_token is not None:
            r._fail(
                "SLACK_APP_TOKEN",
                "cannot be combined with OAuth installs: Slack must reach /slack/install and "
                "/slack/oauth_redirect over HTTP (unset SLACK_APP_TOKEN for HTTP mode)",
                None,
            )
        api_key = r.secret("RELAYDANCE_API_KEY")
        redis_url = r.redis_url("REDIS_URL")
        settings = cls(
            slack_bot_token=bot_token,
            slack_signing_secret=signing_secret,
            slack_app_token=app_token,
            slack_api_url=_with_slash(r.url("SLACK_API_URL", "https://slack.com/api/")),
            slack_client_id=client_id,
            slack_client_secret=client_secret,
            slack_state_secret=state_secret,
            slack_redirect_uri=r.optional_url("SLACK_REDIRECT_URI"),
            relaydance_api_key=api_key,
            relaydance_base_url=r.url("RELAYDANCE_BASE_URL", "https://relaydance.com/v1").rstrip("/"),
            relaydance_model=r.text("RELAYDANCE_MODEL", "grok-4.3"),
            redis_url=redis_url,
            redis_prefix=r.text("REDIS_PREFIX", "rdbot"),
            redis_timeout=r.number("REDIS_TIMEOUT", 0.5, float, low=0.01, high=30),
            redis_max_connections=r.number("REDIS_MAX_CONNECTIONS", 100, int, low=2, high=10_000),
            state_dir=Path(r.text("STATE_DIR", ".state")),
            port=r.number("PORT", 3000, int, low=0, high=65535),
            host=r.text("HOST", "0.0.0.0"),  # noqa: S104 - see the field's comment
            system_prompt=r.text("SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT),
            temperature=r.optional_number("TEMPERATURE", float, low=0, high=2),
            max_tokens=r.optional_number("MAX_TOKENS", int, low=1, high=1_000_000),
            edit_interval=r.number("EDIT_INTERVAL", 0.25, float, low=0.05, high=60),
            history_budget_tokens=r.number("HISTORY_BUDGET_TOKENS", 6000, int, low=200, high=2_000_000),
            history_max_messages=r.number("HISTORY_MAX_MESSAGES", 500, int, low=10, high=100_000),
            history_ttl_days=r.number("HISTORY_TTL_DAYS", 30.0, float, low=0.01, high=3650),
            followups_without_mention=r.flag("FOLLOWUPS_WITHOUT_MENTION", True),
            answer_other_bots=r.flag("ANSWER_OTHER_BOTS", False),
            connect_timeout=r.number("RELAYDANCE_CONNECT_TIMEOUT", 5.0, float, low=0.01, high=600),
            first_token_timeout=r.number("RELAYDANCE_FIRST_TOKEN_TIMEOUT", 60.0, float, low=0.01, high=3600),
            idle_timeout=r.number("RELAYDANCE_IDLE_TIMEOUT", 30.0, float, low=0.01, high=3600),
            thinking_timeout=r.number("RELAYDANCE_THINKING_TIMEOUT", 180.0, float, low=1, high=3600),
            file_text_max_bytes=r.number("FILE_TEXT_MAX_BYTES", 65_536, int, low=0, high=1_048_576),
            image_input=r.flag("IMAGE_INPUT", False),
            log_level=r.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            admin_users=r.user_ids("ADMIN_USERS"),
            ask_context_messages=r.number("ASK_CONTEXT_MESSAGES", 20, int, low=0, high=500),
            shutdown_grace=r.number("SHUTDOWN_GRACE", 25.0, float, low=0, high=3600),
            health_port=r.optional_number("HEALTH_PORT", int, low=0, high=65535),
            log_format=r.choice("LOG_FORMAT", "TEXT", ("TEXT", "JSON")).lower(),
            slack_rate_update=_rate(r, "SLACK_RATE_UPDATE", (50.0, 60.0, 40.0)),
            slack_rate_post=_rate(r, "SLACK_RATE_POST", (60.0, 60.0, 20.0)),
            slack_rate_stream=_rate(r, "SLACK_RATE_STREAM", (20.0, 60.0, 20.0)),
            slack_rate_append=_rate(r, "SLACK_RATE_APPEND", (100.0, 60.0, 30.0)),
            slack_native_streaming=r.choice("SLACK_NATIVE_STREAMING", "AUTO", ("AUTO", "ON", "OFF")).lower(),
            secrets=tuple(
                s.reveal()
                for s in (bot_token, signing_secret, app_token, api_key, client_secret, state_secret)
                if s is not None
            )
            + _url_password(redis_url),
            knowledge_channels=r.channel_ids("KNOWLEDGE_CHANNELS"),
            knowledge_threads=r.number("KNOWLEDGE_THREADS", 4, int, low=0, high=10),
            knowledge_index=r.choice("KNOWLEDGE_INDEX", "AUTO", ("AUTO", "REDIS", "SEARCH")).lower(),
            tools=r.choice("TOOLS", "AUTO", ("AUTO", "OFF")).lower(),
            max_tool_steps=r.number("MAX_TOOL_STEPS", 4, int, low=1, high=10),
            knowledge_backfill_days=r.number("KNOWLEDGE_BACKFILL_DAYS", 0, int, low=0, high=3650),
            knowledge_backfill_pace=r.number("KNOWLEDGE_BACKFILL_PACE", 60.0, float, low=0.0, high=3600.0),
            max_concurrent_answers=r.number("MAX_CONCURRENT_ANSWERS", 1000, int, low=1, high=100_000),
            answer_queue_size=r.number("ANSWER_QUEUE_SIZE", 1000, int, low=0, high=1_000_000),
            max_summary_parts=r.number("MAX_SUMMARY_PARTS", 20, int, low=1, high=1000),
            regenerate_per_minute=r.number("REGENERATE_PER_MINUTE", 5, int, low=1, high=10_000),
            max_stored_message_chars=r.number(
                "MAX_STORED_MESSAGE_CHARS", 40_000, int, low=1000, high=10_000_000
            ),
            allowed_channels=r.channel_ids("ALLOWED_CHANNELS"),
            allowed_users=r.user_ids("ALLOWED_USERS"),
            blocked_channels=r.channel_ids("BLOCKED_CHANNELS"),
            blocked_users=r.user_ids("BLOCKED_USERS"),
            daily_tokens_per_user=r.optional_number("DAILY_TOKENS_PER_USER", int, low=1, high=10**12),
            daily_tokens_per_channel=r.optional_number("DAILY_TOKENS_PER_CHANNEL", int, low=1, high=10**12),
            redact=r.flag("REDACT", True),
            redact_patterns=r.patterns("REDACT_PATTERNS"),
        )
        if r.errors:
            raise ConfigErrors(r.errors)
        return settings


OAUTH_VARIABLES = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_STATE_SECRET")


def _oauth(r: _Reader) -> tuple[str | None, Secret | None, Secret | None]:
    """The OAuth trio, all or nothing: a partial set names each missing variable."""
    client_id = r.text("SLACK_CLIENT_ID", "") or None
    client_secret = r.optional_secret("SLACK_CLIENT_SECRET")
    state_secret = r.optional_secret("SLACK_STATE_SECRET")
    given = {
        name: value is not None or any(e.name == name for e in r.errors)
        for name, value in zip(OAUTH_VARIABLES, (client_id, client_secret, state_secret), strict=True)
    }
    if not any(given.values()):
        return None, None, None
    for name, present in given.items():
        if not present:
            r._fail(name, f"is not set (OAuth installs need all of {', '.join(OAUTH_VARIABLES)})", None)
    if client_id is None or client_secret is None or state_secret is None:
        return None, None, None
    if len(state_secret.reveal()) < 16:
        r._fail("SLACK_STATE_SECRET", "must be at least 16 characters (it signs install states)", None)
    return client_id, client_secret, state_secret


def _url_password(url: str | None) -> tuple[str, ...]:
    """A password inside REDIS_URL is a secret too: logs must not show it."""
    password = urlsplit(url).password if url else None
    return (password,) if password else ()


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class _Reader:
    """Reads one variable at a time; a problem becomes a ConfigError naming it, kept in `errors`
    while the reader answers a harmless stand-in, so every variable is read before start-up stops."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.errors: list[ConfigError] = []

    def _fail(self, name: str, problem: str, stand_in: T) -> T:
        self.errors.append(ConfigError(name, problem))
        return stand_in

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def secret(self, name: str, *, prefix: str = "") -> Secret:
        found = self.optional_secret(name, prefix=prefix)
        if found is None and not any(e.name == name for e in self.errors):
            return self._fail(name, "is not set", Secret(""))
        return found or Secret("")

    def optional_secret(self, name: str, *, prefix: str = "") -> Secret | None:
        value = self._raw(name)
        if value is None:
            return None
        if any(word in value.lower() for word in PLACEHOLDER_WORDS):
            # The example value is no secret: showing it tells which line of .env to fix.
            return self._fail(
                name,
                f"still holds the example value {_shown(value)} from .env.example; set the real one",
                None,
            )
        if prefix and not value.startswith(prefix):
            return self._fail(name, f"should start with {prefix!r}", None)
        if any(c.isspace() for c in value):
            return self._fail(name, "contains whitespace", None)
        return Secret(value)

    def text(self, name: str, default: str) -> str:
        value = self._raw(name)
        return default if value is None else value

    def url(self, name: str, default: str) -> str:
        value = self.text(name, default)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return self._fail(name, f"must be an http(s) URL, got {_shown(value)}", default)
        return value

    def optional_url(self, name: str) -> str | None:
        value = self._raw(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return self._fail(name, f"must be an http(s) URL, got {_shown(value)}", None)
        return value

    def redis_url(self, name: str) -> str | None:
        value = self._raw(name)
        if value is None:
            return None
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            return self._fail(name, "must start with redis://, rediss:// or unix://", None)
        return value

    def number(self, name: str, default: T, kind: Callable[[str], T], *, low: float, high: float) -> T:
        value = self._raw(name)
        if value is None:
            return default
        parsed = self._parse_number(name, value, kind, low, high)
        return default if parsed is None else parsed

    def optional_number(self, name: str, kind: Callable[[str], T], *, low: float, high: float) -> T | None:
        value = self._raw(name)
        if value is None:
            return None
        return self._parse_number(name, value, kind, low, high)

    def _parse_number(
        self, name: str, value: str, kind: Callable[[str], T], low: float, high: float
    ) -> T | None:
        try:
            parsed = kind(value)
        except ValueError:
            return self._fail(name, f"must be a number, got {_shown(value)}", None)
        if not low <= parsed <= high:  # type: ignore[operator]
            return self._fail(name, f"must be between {low:g} and {high:g}, got {_shown(value)}", None)
        return parsed

    def flag(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return self._fail(name, f"must be true or false, got {_shown(value)}", default)

    def user_ids(self, name: str) -> tuple[str, ...]:
        value = self._raw(name)
        if value is None:
            return ()
        ids = tuple(part.strip() for part in value.split(",") if part.strip())
        for user in ids:
            if not (user[:1] in ("U", "W") and user.isalnum() and user.isupper()):
                return self._fail(name, f"must be Slack user IDs separated by commas, got {_shown(user)}", ())
        return ids

    def patterns(self, name: str) -> tuple[str, ...]:
        """Regular expressions separated by `PATTERN_SEPARATOR`; each must compile and must not
        match empty text (it would redact between every character)."""
        value = self._raw(name)
        if value is None:
            return ()
        found = tuple(part.strip() for part in value.split(PATTERN_SEPARATOR) if part.strip())
        for number, pattern in enumerate(found, 1):
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                return self._fail(name, f"pattern {number} is not a valid regex: {exc}", ())
            if compiled.search("") is not None:
                return self._fail(name, f"pattern {number} matches empty text", ())
        return found

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        value = self.text(name, default).upper()
        if value not in options:
            return self._fail(name, f"must be one of {', '.join(options)}", default)
        return value

    def channel_ids(self, name: str) -> tuple[str, ...]:
        value = self._raw(name)
        if value is None:
            return ()
        ids = tuple(part.strip() for part in value.split(",") if part.strip())
        for channel in ids:
            if not (channel[:1] in ("C", "G", "D") and channel.isalnum() and channel.isupper()):
                problem = f"must be Slack channel IDs separated by commas, got {_shown(channel)}"
                return self._fail(name, problem, ())
        return ids


def _shown(value: str) -> str:
    """Quote a non-secret value for an error message, cut short so a pasted blob stays readable."""
    return repr(value if len(value) <= 60 else value[:57] + "...")


def _rate(r: _Reader, name: str, default: Rate) -> Rate:
    """`CALLS/SECONDS` or `CALLS/SECONDS,BURST` (burst defaults to the default's)."""
    value = r.text(name, "")
    if not value:
        return default
    rate, _, burst = value.partition(",")
    calls, slash, per = rate.partition("/")
    try:
        parsed = (float(calls), float(per), float(burst) if burst.strip() else default[2])
    except ValueError:
        parsed = (0.0, 0.0, 0.0)
    if not slash or not (0 < parsed[0] <= 100_000 and 0 < parsed[1] <= 86_400 and 1 <= parsed[2] <= 100_000):
        problem = f"must be CALLS/SECONDS[,BURST] with positive numbers, got {_shown(value)}"
        return r._fail(name, problem, default)
    return parsed
