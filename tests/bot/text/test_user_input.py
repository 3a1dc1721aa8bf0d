from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.user_input import (
    DEFAULT_RECAP_PERIOD,
    MessageLink,
    parse_duration,
    parse_message_link,
    parse_since,
    same_workspace,
)

LINK = "https://acme.slack.com/archives/C0123ABCD/p1700000000123456"


# -- parse_duration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", DEFAULT_RECAP_PERIOD),
        ("   ", timedelta(hours=24)),
        ("30m", timedelta(minutes=30)),
        ("5m", timedelta(minutes=5)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("90d", timedelta(days=90)),
        ("1 day", timedelta(days=1)),
        ("3 days", timedelta(days=3)),
        ("12 hours", timedelta(hours=12)),
        ("1 hour", timedelta(hours=1)),
        ("45 min", timedelta(minutes=45)),
        ("10 minutes", timedelta(minutes=10)),
        ("1 week", timedelta(weeks=1)),
        (" 24H ", timedelta(hours=24)),
        ("3 Days", timedelta(days=3)),
        ("007d", timedelta(days=7)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "I don't understand “soon” — try 24h, 3d or 2w."),
        ("1.5h", "I don't understand “1.5h” — try 24h, 3d or 2w."),
        ("-3d", "I don't understand “-3d” — try 24h, 3d or 2w."),
        ("3", "I don't understand “3” — try 24h, 3d or 2w."),
        ("d", "I don't understand “d” — try 24h, 3d or 2w."),
        ("3 fortnights", "I don't understand “3 fortnights” — try 24h, 3d or 2w."),
        ("3d 4h", "I don't understand “3d 4h” — try 24h, 3d or 2w."),
        ("٣d", "I don't understand “٣d” — try 24h, 3d or 2w."),  # only ASCII digits
        ("0m", "“0m” is too short — a recap covers at least 5 minutes."),
        ("4m", "“4m” is too short — a recap covers at least 5 minutes."),
        ("91d", "“91d” is too long — a recap goes back at most 90 days."),
        ("13w", "“13w” is too long — a recap goes back at most 90 days."),
        ("2161 hours", "“2161 hours” is too long — a recap goes back at most 90 days."),
    ],
)
def test_parse_duration_refuses_with_a_message_for_people(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("text", ["9" * 30 + "d", "9" * 5000 + "w"])
def test_parse_duration_huge_numbers_are_too_long_not_a_crash(text: str) -> None:
    with pytest.raises(ValueError, match="too long") as caught:
        parse_duration(text)
    assert len(str(caught.value)) < 120  # the echo is shortened


def test_parse_duration_echo_is_one_short_line() -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration("since the\nbeginning of the quarter, when we shipped the thing")
    quoted = "since the beginning of the quarter, whe…"  # 40 characters at most
    assert str(caught.value) == f"I don't understand “{quoted}” — try 24h, 3d or 2w."


@settings(max_examples=300)
@given(st.text(max_size=30))
def test_parse_duration_returns_a_bounded_period_or_a_value_error(text: str) -> None:
    try:
        period = parse_duration(text)
    except ValueError as error:
        assert str(error).endswith(("— try 24h, 3d or 2w.", "at least 5 minutes.", "at most 90 days."))
    else:
        assert timedelta(minutes=5) <= period <= timedelta(days=90)


# -- parse_message_link ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (LINK, MessageLink("acme.slack.com", "C0123ABCD", "1700000000.123456", None)),
        (f"<{LINK}>", MessageLink("acme.slack.com", "C0123ABCD", "1700000000.123456", None)),
        (f"<{LINK}|a message>", MessageLink("acme.slack.com", "C0123ABCD", "1700000000.123456", None)),
        (f"  {LINK}/  ", MessageLink("acme.slack.com", "C0123ABCD", "1700000000.123456", None)),
        (
            f"{LINK}?thread_ts=1700000000.000100&cid=C0123ABCD",
            MessageLink("acme.slack.com", "C0123ABCD", "1700000000.123456", "1700000000.000100"),
        ),
        (  # inside a command's text Slack escapes "&"
            f"<{LINK}?thread_ts=1700000000.000100&amp;cid=C0123ABCD>",
            MessageLink("acme.slack.com", "C0123ABCD", "1700000000.123456", "1700000000.000100"),
        ),
        (  # a malformed thread_ts is ignored: conversations.replies takes the reply's ts too
            f"{LINK}?thread_ts=yesterday",
            MessageLink("acme.slack.com", "C0123ABCD", "1700000000.123456", None),
        ),
        (
            "https://ACME.Slack.com/archives/G0123ABCD/p1700000000000001",
            MessageLink("acme.slack.com", "G0123ABCD", "1700000000.000001", None),
        ),
        (
            "https://acme.enterprise.slack.com/archives/D0123ABCD/p1700000000123456",
            MessageLink("acme.enterprise.slack.com", "D0123ABCD", "1700000000.123456", None),
        ),
        (
            "https://agency.slack-gov.com/archives/C0123ABCD/p1700000000123456",
            MessageLink("agency.slack-gov.com", "C0123ABCD", "1700000000.123456", None),
        ),
        (  # typed without the scheme
            "acme.slack.com/archives/C0123ABCD/p1700000000123456",
            MessageLink("acme.slack.com", "C0123ABCD", "1700000000.123456", None),
        ),
    ],
)
def test_parse_message_link(text: str, expected: MessageLink) -> None:
    assert parse_message_link(text) == expected


NOT_A_LINK = (
    "That isn't a link to a Slack message — choose “Copy link” in a message's menu and paste it here."
)


@pytest.mark.parametrize(
    "text",
    [
        "soon",
        "https://example.com/archives/C0123ABCD/p1700000000123456",  # not Slack
        "https://slack.com.evil.io/archives/C0123ABCD/p1700000000123456",
        "https://acme.slack.com/archives/C0123ABCD",  # a channel, not a message
        "https://acme.slack.com/archives/C0123ABCD/1700000000123456",  # no "p"
        "https://acme.slack.com/archives/C0123ABCD/p123456",  # no seconds
        "https://acme.slack.com/archives/X0123ABCD/p1700000000123456",  # not a conversation ID
        "https://acme.slack.com/archives/c0123abcd/p1700000000123456",
        "https://acme.slack.com/archives/C0123ABCD/p17000000001234x6",
        "https://app.slack.com/client/T0123/C0123ABCD",
        "ftp://acme.slack.com/archives/C0123ABCD/p1700000000123456",
        f"{LINK} please",
        f"<{LINK}> <{LINK}>",
        "https://[::1/archives/C0123ABCD/p1700000000123456",  # urlsplit refuses the host
        "<@U123>",
        "#general",
    ],
)
def test_parse_message_link_refuses_what_is_not_a_message_link(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_message_link(text)
    assert str(caught.value) == NOT_A_LINK


@pytest.mark.parametrize("text", ["", "  \n "])
def test_parse_message_link_asks_for_a_link_when_there_is_none(text: str) -> None:
    with pytest.raises(ValueError, match="Paste a message link after the command"):
        parse_message_link(text)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_parse_message_link_only_ever_raises_value_error(text: str) -> None:
    try:
        link = parse_message_link(text)
    except ValueError as error:
        assert str(error) == NOT_A_LINK or str(error).startswith("Paste a message link")
    else:
        assert link.ts.count(".") == 1


def test_message_link_root_ts() -> None:
    assert MessageLink("a.slack.com", "C1", "2.000002", None).root_ts == "2.000002"
    assert MessageLink("a.slack.com", "C1", "2.000002", "1.000001").root_ts == "1.000001"


@pytest.mark.parametrize(
    ("team_url", "expected"),
    [
        ("https://acme.slack.com/", True),
        ("https://acme.slack.com", True),
        ("https://ACME.slack.com/", True),
        ("https://other.slack.com/", False),
        ("https://acme.enterprise.slack.com/", False),
        ("", False),
        ("not a url", False),
        ("https://[::1/", False),
    ],
)
def test_same_workspace(team_url: str, expected: bool) -> None:
    assert same_workspace(parse_message_link(LINK), team_url) is expected


# -- parse_since (the `since` of the model's search tool) ---------------------------------------

NOW = 1_764_000_000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-13", 1_762_992_000.0),
        (" 2025-11-13T10:00:00Z ", 1_762_992_000.0),  # the date part counts
        ("30d", NOW - 30 * 86_400),
        ("2 weeks", NOW - 14 * 86_400),
        ("12h", NOW - 12 * 3_600),
        ("400 days", NOW - 400 * 86_400),  # no upper bound, unlike a recap
    ],
)
def test_since_reads_dates_and_periods(text: str, expected: float) -> None:
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["last tuesday", "2025-13-40", "99999999d", "3 fortnights", ""])
def test_since_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="date"):
        parse_since(text, now=NOW)
