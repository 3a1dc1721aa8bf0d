"""Redaction before upstream: no secret-shaped text survives, ordinary text is left alone."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.redact import REDACTED, Redactor, luhn_ok

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits


def _random(alphabet: str, size: int, rng: random.Random) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def card_number(rng: random.Random, length: int = 16) -> str:
    """A number that passes the Luhn check, starting like a real card (2-6)."""
    body = rng.choice("23456") + _random(string.digits, length - 2, rng)
    check = next(d for d in string.digits if luhn_ok(body + d))
    return body + check


def grouped(number: str, separator: str) -> str:
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


@st.composite
def secrets(draw: st.DrawFn) -> str:
    rng = random.Random(draw(st.integers(0, 2**32)))
    kind = draw(st.sampled_from(["slack", "xapp", "sk", "aws", "ghp", "pat", "google", "pem", "card"]))
    if kind == "slack":
        prefix = draw(st.sampled_from(["xoxb", "xoxp", "xoxa", "xoxr", "xoxs", "xoxe"]))
        return f"{prefix}-{_random(string.digits, 12, rng)}-{_random(ALNUM, 24, rng)}"
    if kind == "xapp":
        app, stamp = _random(UPPER_ALNUM, 10, rng), _random(string.digits, 13, rng)
        return f"xapp-1-A{app}-{stamp}-{_random(ALNUM, 20, rng)}"
    if kind == "sk":
        prefix = draw(st.sampled_from(["sk-", "sk-proj-", "sk-ant-api03-"]))
        return prefix + _random(ALNUM, 40, rng) + rng.choice(string.digits)
    if kind == "aws":
        return rng.choice(["AKIA", "ASIA"]) + _random(UPPER_ALNUM, 16, rng)
    if kind == "ghp":
        return rng.choice("pousr").join(["gh", "_"]) + _random(ALNUM, 36, rng)
    if kind == "pat":
        return "github_pat_" + _random(ALNUM + "_", 60, rng)
    if kind == "google":
        return "AIza" + _random(ALNUM + "_-", 35, rng)
    if kind == "pem":
        body = "\n".join(_random(ALNUM + "+/", 64, rng) for _ in range(3))
        label = rng.choice(["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "])
        return f"-----BEGIN {label}PRIVATE KEY-----\n{body}\n-----END {label}PRIVATE KEY-----"
    number = card_number(rng, draw(st.sampled_from([15, 16, 19])))
    return grouped(number, draw(st.sampled_from(["", " ", "-"])))


WORDS = [
    "the",
    "deploy",
    "is",
    "green",
    "ask",
    "Ada",
    "about",
    "v2.3.1",
    "room",
    "4",
    "at",
    "10:30",
    "PR",
    "#1234",
    "key",
    "rotation",
    "task-force",
    "sk-learn",
    "bearer",
    "of",
    "news",
    "(see)",
    "https://acme.slack.com/archives/C1/p1700000000000100",
    "1700000000.000100",
    "+1 415 555 0100",
]
SEPARATORS = [" ", "\n", ": ", ", ", " (", ") ", " `", "` ", '"', " = "]

ordinary = st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join)


@settings(max_examples=300)
@given(
    before=ordinary,
    secret=secrets(),
    sep1=st.sampled_from(SEPARATORS),
    sep2=st.sampled_from(SEPARATORS),
    after=ordinary,
)
def test_no_secret_survives_in_any_surroundings(
    before: str, secret: str, sep1: str, sep2: str, after: str
) -> None:
    text = f"{before}{sep1}{secret}{sep2}{after}"
    done = Redactor().redact(text)
    assert done.count >= 1
    assert REDACTED in done.text
    core = secret.replace(" ", "").replace("-", "")
    # Neither the secret nor any long piece of it is left.
    assert secret not in done.text
    assert core[len(core) // 2 :] not in done.text.replace(" ", "").replace("-", "")


@settings(max_examples=300)
@given(text=ordinary)
def test_ordinary_text_is_untouched(text: str) -> None:
    done = Redactor().redact(text)
    assert done == type(done)(text, 0)


@settings(max_examples=200)
@given(parts=st.lists(st.one_of(secrets(), ordinary), max_size=6))
def test_redacting_twice_changes_nothing_more(parts: list[str]) -> None:
    once = Redactor().redact(" ".join(parts)).text
    assert Redactor().redact(once) == type(Redactor().redact(once))(once, 0)


@pytest.mark.parametrize(
    "text",
    [
        "call 4111 1111 1111 1112 now",  # fails the Luhn check
        "order 1234567890123456",  # fails the Luhn check
        "id 4111111111111111222 is long",  # 19 digits, not a card as a whole
        "serial 41111111111111114111111111111111 is longer",  # two cards glued: one 32-digit number
        "version 5.105.0000.4242 of it",
        "p1700000000000100 and thread_ts=1700000000.000100",
        "a tasks-manager and sk-short-1",
        "Bearer authentication-scheme-name is standard",
        "-----BEGIN PUBLIC KEY----- is fine to share",
        "xoxb- alone, xapp- too",
    ],
)
def test_near_misses_stay(text: str) -> None:
    assert Redactor().redact(text).text == text


def test_a_card_next_to_other_numbers_is_found_and_the_numbers_kept() -> None:
    done = Redactor().redact("ticket 12 4111 1111 1111 1111 expires 12/29")
    assert done.text == f"ticket 12 {REDACTED} expires 12/29"
    assert done.count == 1


def test_a_long_run_of_digit_groups_is_searched_in_linear_time() -> None:
    text = "1 " * 50_000 + "4242 4242 4242 4242"
    done = Redactor().redact(text)
    assert done.count == 1 and done.text.endswith(REDACTED)


def test_bearer_keeps_the_word_and_a_cut_pem_block_goes_to_the_end() -> None:
    done = Redactor().redact("curl -H 'Authorization: Bearer abcDEF123456ghiJKL789' https://x")
    assert done.text == f"curl -H 'Authorization: Bearer {REDACTED}' https://x"
    cut = Redactor().redact(
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA [… 900 characters left out …]"
    )
    assert cut.text == f"key:\n{REDACTED}"


def test_defaults_off_and_patterns_of_ones_own() -> None:
    text = "token xoxb-123456789012-abcdefghijkl and ticket ACME-123456"
    assert Redactor(defaults=False).redact(text).text == text
    assert not Redactor(defaults=False).active
    own = Redactor([r"ACME-[0-9]{6}"], defaults=False).redact(text)
    assert own.text == f"token xoxb-123456789012-abcdefghijkl and ticket {REDACTED}" and own.count == 1
    both = Redactor([r"ACME-[0-9]{6}"]).redact(text)
    assert both.text == f"token {REDACTED} and ticket {REDACTED}" and both.count == 2


def test_messages_redacts_every_content_and_counts() -> None:
    messages = [
        {"role": "system", "content": "You help. Admin key sk-proj-abcdefghijklmnop1234567890"},
        {"role": "user", "content": "ada: my card is 4242 4242 4242 4242"},
        {"role": "assistant", "content": "I can't use that."},
    ]
    out, count = Redactor().messages(messages)
    assert count == 2
    assert [m["role"] for m in out] == ["system", "user", "assistant"]
    assert out[0]["content"] == f"You help. Admin key {REDACTED}"
    assert out[1]["content"] == f"ada: my card is {REDACTED}"
    assert out[2] == messages[2]
    assert "4242" in messages[1]["content"]  # the caller's messages are not changed


def test_a_card_after_a_phone_number_is_redacted_whole() -> None:
    # "415 555 0100 2186" passes the Luhn check by chance: taking only that match left
    # "0369 8791 380" of the card behind (found by the property test above).
    done = Redactor().redact("+1 415 555 0100 2186 0369 8791 380")
    assert done.text == "+1 [redacted]" and done.count == 1
