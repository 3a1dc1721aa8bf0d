"""What people type to ask for a summary, read into values: the `/recap` period and a message link.

Kept apart from `bot.text.summary_prompts`, which builds the requests: this is the checking of
untrusted input, shared by the slash commands and the assistant pane. Every refusal is a
`ValueError` whose message is one sentence to show the user as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "DEFAULT_RECAP_PERIOD",
    "MAX_RECAP_PERIOD",
    "MIN_RECAP_PERIOD",
    "MessageLink",
    "parse_duration",
    "parse_message_link",
    "parse_since",
    "same_workspace",
]

# -- /recap [since] --------------------------------------------------------------------------------

DEFAULT_RECAP_PERIOD: Final = timedelta(hours=24)
MIN_RECAP_PERIOD: Final = timedelta(minutes=5)
MAX_RECAP_PERIOD: Final = timedelta(days=90)

_DURATION = re.compile(r"([0-9]+)\s*([a-z]+)")
_UNIT_MINUTES: Final = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 1),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 60),
    **dict.fromkeys(("d", "day", "days"), 24 * 60),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 7 * 24 * 60),
}
_QUOTE_MAX_CHARS: Final = 40


def parse_duration(text: str) -> timedelta:
    """The period `/recap` looks back over: `30m`, `24h`, `7d`, `2w`, `12 hours`, `3 days`.

    Empty text means `DEFAULT_RECAP_PERIOD` (a day: "what did I miss"). Periods outside
    `MIN_RECAP_PERIOD`..`MAX_RECAP_PERIOD` are refused rather than clamped, so the user is never
    told about a different period than the one they asked for. Case and spaces do not matter.
    """
    cleaned = text.strip()
    if not cleaned:
        return DEFAULT_RECAP_PERIOD
    match = _DURATION.fullmatch(cleaned.lower())
    if match is None or match.group(2) not in _UNIT_MINUTES:
        raise ValueError(f"I don't understand “{_quote(cleaned)}” — try 24h, 3d or 2w.")
    digits = match.group(1).lstrip("0") or "0"
    # Compare in whole minutes before building a timedelta: a huge count would overflow it.
    minutes = int(digits) * _UNIT_MINUTES[match.group(2)] if len(digits) <= 9 else None
    if minutes is not None and minutes < MIN_RECAP_PERIOD // timedelta(minutes=1):
        raise ValueError(f"“{_quote(cleaned)}” is too short — a recap covers at least 5 minutes.")
    if minutes is None or minutes > MAX_RECAP_PERIOD // timedelta(minutes=1):
        raise ValueError(f"“{_quote(cleaned)}” is too long — a recap goes back at most 90 days.")
    return timedelta(minutes=minutes)


_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def parse_since(text: str, *, now: float) -> float:
    """Where a search starts (epoch seconds), from a date (`2025-11-13`, UTC) or a period back
    from `now` (`30d`, `2w`, `12 hours`); the model writes it, so there is no upper bound."""
    cleaned = text.strip().lower()
    date = _DATE.fullmatch(cleaned[:10]) if len(cleaned) >= 10 else None
    if date is not None:
        try:
            year, month, day = (int(g) for g in date.groups())
            return datetime(year, month, day, tzinfo=UTC).timestamp()
        except ValueError:
            raise ValueError(f"“{_quote(text)}” is not a date") from None
    match = _DURATION.fullmatch(cleaned)
    if match is None or match.group(2) not in _UNIT_MINUTES or len(match.group(1)) > 7:
        raise ValueError(f"“{_quote(text)}” is neither a date (2025-11-13) nor a period (30d)")
    return now - int(match.group(1)) * _UNIT_MINUTES[match.group(2)] * 60


def _quote(text: str) -> str:
    """The user's words to echo in an error, shortened so a pasted essay stays out of it."""
    one_line = " ".join(text.split())
    if len(one_line) <= _QUOTE_MAX_CHARS:
        return one_line
    return one_line[: _QUOTE_MAX_CHARS - 1] + "…"


# -- /summarize <message link> ---------------------------------------------------------------------

# Workspace hosts on Slack's commercial and GovSlack domains (Enterprise Grid adds a label).
_SLACK_HOST = re.compile(r"(?:[a-z0-9-]+\.)+(?:slack|slack-gov)\.com")
_ARCHIVES_PATH = re.compile(r"/archives/([CDG][A-Z0-9]+)/p([0-9]+)([0-9]{6})/?")
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")
_SLACK_TS = re.compile(r"[0-9]+\.[0-9]{6}")
_NOT_A_LINK: Final = (
    "That isn't a link to a Slack message — choose “Copy link” in a message's menu and paste it here."
)
_NO_LINK: Final = "Paste a message link after the command — choose “Copy link” in a message's menu."


@dataclass(frozen=True, slots=True)
class MessageLink:
    """A parsed message permalink; `ts` and `thread_ts` in Slack's `seconds.micros` form."""

    workspace_host: str  # lower case, e.g. "acme.slack.com"
    channel: str
    ts: str
    thread_ts: str | None = None  # set when the link points at a reply in a thread

    @property
    def root_ts(self) -> str:
        """The thread's parent message: the linked message itself unless it is a reply."""
        return self.thread_ts or self.ts


def parse_message_link(text: str) -> MessageLink:
    """Read a message permalink as pasted into a slash command.

    Slack may send it bare, as `<url>` or as `<url|label>`, with `&` escaped as `&amp;`. A
    `thread_ts` query parameter that is not a Slack timestamp is ignored (it only saves a lookup:
    `conversations.replies` accepts a reply's ts too), while a wrong host, path or timestamp in
    the link itself is refused.
    """
    cleaned = text.strip()
    if not cleaned:
        raise ValueError(_NO_LINK)
    if cleaned.startswith("<") and cleaned.endswith(">"):
        cleaned = cleaned[1:-1].partition("|")[0].strip()
    cleaned = cleaned.replace("&amp;", "&")
    if not _SCHEME.match(cleaned):
        cleaned = "https://" + cleaned  # typed by hand, e.g. "acme.slack.com/archives/…"
    if any(character.isspace() for character in cleaned):
        raise ValueError(_NOT_A_LINK)
    try:
        url = urlsplit(cleaned)
        host = url.hostname or ""
    except ValueError:  # e.g. a malformed IPv6 host or port
        raise ValueError(_NOT_A_LINK) from None
    path = _ARCHIVES_PATH.fullmatch(url.path)
    if url.scheme not in ("https", "http") or not _SLACK_HOST.fullmatch(host) or path is None:
        raise ValueError(_NOT_A_LINK)
    channel, seconds, micros = path.groups()
    thread_ts = parse_qs(url.query).get("thread_ts", [""])[0]
    return MessageLink(
        workspace_host=host,
        channel=channel,
        ts=f"{seconds}.{micros}",
        thread_ts=thread_ts if _SLACK_TS.fullmatch(thread_ts) else None,
    )


def same_workspace(link: MessageLink, team_url: str) -> bool:
    """Whether `link` belongs to the workspace at `team_url` (auth.test's `url`).

    Checked before fetching so a link from another workspace gets a clear answer instead of a
    `channel_not_found`. Hosts are compared exactly (case aside), so an Enterprise Grid link on
    the organisation's domain counts as another workspace.
    """
    try:
        host = urlsplit(team_url.strip()).hostname
    except ValueError:
        return False
    return host is not None and host == link.workspace_host.lower()
