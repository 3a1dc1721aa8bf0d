"""Secrets taken out of text before it leaves for the model: pure functions, no I/O.

People paste tokens, keys and card numbers into Slack; the bot sends the conversation to
RelayDance, so whatever it quotes would leave the workspace. Every message of every request
goes through `Redactor.messages` first, and each secret-shaped span becomes `REDACTED`.

The built-in patterns (`DEFAULT_PATTERNS`, off with REDACT=false) aim at shapes that are
almost never ordinary words: Slack tokens, common API keys, bearer tokens, PEM private keys and
card numbers that pass the Luhn check. Patterns of one's own (REDACT_PATTERNS) are added to them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_PATTERNS", "REDACTED", "Redaction", "Redactor", "luhn_ok"]

REDACTED: Final = "[redacted]"

# Each pattern starts with its literal prefix and only then looks behind it (not inside a longer
# word): a pattern that opens with a lookbehind is tried at every position, some 50 times slower.
DEFAULT_PATTERNS: Final[dict[str, str]] = {
    # xoxb- (bot), xoxp- (user), xoxa-/xoxr-/xoxs-/xoxe- (app, refresh, session, rotating), xoxo-
    "slack token": r"xox(?<![A-Za-z0-9_]xox)[abeoprs]-[0-9A-Za-z-]{8,}",
    "slack app token": r"xapp-(?<![A-Za-z0-9_]xapp-)[0-9A-Za-z-]{8,}",
    # sk-…, sk-proj-…, sk-ant-…: at least 20 characters with a digit, so "sk-learn-pipelines" stays
    "sk- key": r"sk-(?<![A-Za-z0-9_]sk-)(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}",
    "aws access key": r"A[KS]IA(?<![A-Z0-9]A[KS]IA)[0-9A-Z]{16}(?![A-Z0-9])",
    "github token": r"gh[pousr]_(?<![A-Za-z0-9_]gh[pousr]_)[A-Za-z0-9]{36,}",
    "github fine-grained token": r"github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{22,}",
    "google api key": r"AIza(?<![A-Za-z0-9_]AIza)[0-9A-Za-z_-]{35}",
    # The word stays ("Bearer [redacted]"); the token needs 16+ characters, a letter and a digit.
    "bearer token": (
        r"(?P<keep>[Bb](?<![A-Za-z0-9_][Bb])(?:earer|EARER) )"
        r"(?=[A-Za-z0-9._~+/-]*[0-9])(?=[A-Za-z0-9._~+/-]*[A-Za-z])[A-Za-z0-9._~+/-]{16,}=*"
    ),
    # A whole block; one cut short (no END line) is redacted to the end of the text.
    "pem private key": (
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)"
    ),
}
"""The built-in patterns by what they find. Card numbers are found in code (`_cards`): a regex
cannot check the Luhn sum. A `keep` group is kept in front of `REDACTED`."""

# 13 or more digits (a card has 13 to 19), single spaces or dashes between them, not inside a word
# or a URL path or query (permalinks carry 16-digit timestamps).
_CARD: Final = re.compile(r"[0-9](?<![\w/.=#&?-][0-9])(?:[ -]?[0-9]){12,}(?![\w/-])")
_CARD_SEPARATOR: Final = re.compile(r"([ -])")
_DIGIT: Final = re.compile(r"[0-9]")
_CARD_FIRST_DIGITS: Final = frozenset("23456")  # Mastercard 2/5, Amex 3, Visa 4, Discover 6


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (the checksum card numbers carry)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_number(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] in _CARD_FIRST_DIGITS and luhn_ok(digits)


@dataclass(frozen=True, slots=True)
class Redaction:
    text: str
    count: int  # secrets replaced


class Redactor:
    """Replaces secret-shaped text with `REDACTED`; safe to share (holds only compiled patterns)."""

    def __init__(self, extra: Iterable[str] = (), *, defaults: bool = True) -> None:
        sources = [*(DEFAULT_PATTERNS.values() if defaults else ()), *extra]
        self._patterns = [re.compile(source) for source in sources]
        self._replacements = [
            rf"\g<keep>{REDACTED}" if "keep" in pattern.groupindex else REDACTED for pattern in self._patterns
        ]
        self._cards = defaults

    @property
    def active(self) -> bool:
        return bool(self._patterns) or self._cards

    def redact(self, text: str) -> Redaction:
        count = 0
        for pattern, replacement in zip(self._patterns, self._replacements, strict=True):
            text, found = pattern.subn(replacement, text)
            count += found
        if self._cards:
            text, found = _cards(text)
            count += found
        return Redaction(text, count)

    def messages(self, messages: Sequence[Mapping[str, str]]) -> tuple[list[dict[str, str]], int]:
        """The chat messages with every `content` redacted, and how many secrets went."""
        out: list[dict[str, str]] = []
        total = 0
        for message in messages:
            copy = dict(message)
            if "content" in copy:
                done = self.redact(copy["content"])
                copy["content"] = done.text
                total += done.count
            out.append(copy)
        return out, total


def _cards(text: str) -> tuple[str, int]:
    """Card numbers in `text` replaced. A run of digit groups may hold a card beside other numbers
    ("order 12 4111 1111 1111 1111"), so each run is searched group by group for every stretch
    that is a card number (at most 19 digits from each group, so this stays linear in the run).
    Stretches that overlap are redacted together: a phone number before a card can pass the
    Luhn check with the card's first group, and keeping only that match would leave the rest of
    the card in the text."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        pieces = _CARD_SEPARATOR.split(match.group())  # groups at even indexes, separators between
        groups = pieces[::2]
        covered = [False] * len(groups)
        for start in range(len(groups)):
            end = _longest_card(groups, start)
            if end is not None:
                covered[start:end] = [True] * (end - start)
        out: list[str] = []
        for i, group in enumerate(groups):
            if covered[i] and i and covered[i - 1]:
                continue  # the same redacted stretch
            if i:
                out.append(pieces[2 * i - 1])
            if covered[i]:
                out.append(REDACTED)
                count += 1
            else:
                out.append(group)
        return "".join(out)

    if _DIGIT.search(text) is None:
        return text, 0
    return _CARD.sub(replace, text), count


def _longest_card(groups: Sequence[str], start: int) -> int | None:
    """The end of the longest run of `groups` from `start` that is a card number, if any."""
    found = None
    digits = ""
    for end in range(start + 1, len(groups) + 1):
        digits += groups[end - 1]
        if len(digits) > 19:
            break
        if _card_number(digits):
            found = end
    return found
