"""Emphasis for `bot.text.mrkdwn_inline`: CommonMark's delimiter algorithm, written as Slack markers.

`*`, `_` and `~` runs are found by the inline renderer; here they are classified (CommonMark's
flanking rules, made friendly to CJK text), paired (CommonMark's "process emphasis") and written
as Slack's `*bold*`, `_italic_` and `~strike~`, with zero-width spaces where Slack would
otherwise not see a word boundary.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["LINE_BREAK", "ZWSP", "Delimiter", "InlineMode", "delimiter_at", "emit", "match_emphasis"]

InlineMode = Literal["mrkdwn", "heading", "plain"]
"""How a line is rendered: as mrkdwn, as a heading (bold already), or as plain unescaped text."""

ZWSP: Final = "\u200b"
"""Slack formats `*x*` only at word boundaries; a zero-width space makes one next to a letter."""

LINE_BREAK: Final = "\n"
"""The token a `<br>` becomes; no other token holds a newline, as inline text is one line."""

_FIRST_WIDE: Final = "\u1100"  # no assigned East Asian wide or fullwidth character comes before it
_MARKER: Final = {"strong": "*", "em": "_", "strike": "~"}


@dataclass(slots=True, eq=False)
class Delimiter:
    """A run of `*`, `_` or `~`; matching decides how much of it becomes markup."""

    char: str
    length: int
    can_open: bool
    can_close: bool
    remaining: int
    glued_before: bool  # a letter or ideograph right before the run
    glued_after: bool
    opens: list[str] = field(default_factory=list)  # innermost first
    closes: list[str] = field(default_factory=list)  # innermost first


def delimiter_at(src: str, start: int, end: int) -> Delimiter | None:
    """A `*`/`_`/`~` run with CommonMark's flanking rules, or None when it can only be literal."""
    char, length = src[start], end - start
    if char == "~" and length != 2:
        return None
    before = src[start - 1] if start > 0 else " "
    after = src[end] if end < len(src) else " "
    if char == "*" and before.isdigit() and after.isdigit():
        return None  # `2*3*4` is arithmetic; `**bold**text` and CJK text around `**` are not
    before_space, after_space = before.isspace(), after.isspace()
    before_punct, after_punct = _is_punctuation(before), _is_punctuation(after)
    left = not after_space and (not after_punct or before_space or before_punct)
    right = not before_space and (not before_punct or after_space or after_punct)
    if char == "_":
        can_open = left and (not right or before_punct)
        can_close = right and (not left or after_punct)
    else:
        can_open, can_close = left, right
    if not (can_open or can_close):
        return None
    glued_before = before.isalnum() or (before >= _FIRST_WIDE and _is_wide(before))
    glued_after = after.isalnum() or (after >= _FIRST_WIDE and _is_wide(after))
    return Delimiter(char, length, can_open, can_close, length, glued_before, glued_after)


def _is_punctuation(char: str) -> bool:
    # Wide punctuation (`：`, `「`) counts as a letter, as CJK-friendly Markdown parsers do: Japanese
    # and Chinese put no spaces around words, so `**重要：**です` would never close otherwise.
    return unicodedata.category(char)[0] in ("P", "S") and (char < _FIRST_WIDE or not _is_wide(char))


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def match_emphasis(delimiters: list[Delimiter]) -> None:
    """CommonMark's "process emphasis", over a doubly linked list so removals are O(1)."""
    count = len(delimiters)
    previous = list(range(-1, count - 1))
    following = list(range(1, count + 1))
    # For a kind of closer, the index at or below which no opener can match it any more.
    bottoms: dict[tuple[str, bool, int], int] = {}

    def unlink(index: int) -> None:
        before, after = previous[index], following[index]
        if before >= 0:
            following[before] = after
        if after < count:
            previous[after] = before

    current = 0
    while current < count:
        closer = delimiters[current]
        if not closer.can_close or closer.remaining == 0:
            current = following[current]
            continue
        key = (closer.char, closer.can_open, closer.length % 3)
        bottom = bottoms.get(key, -1)
        candidate = previous[current]
        while candidate > bottom and not _pairs(delimiters[candidate], closer):
            candidate = previous[candidate]
        if candidate <= bottom:
            bottoms[key] = previous[current]
            after = following[current]
            if not closer.can_open:
                unlink(current)
            current = after
            continue
        opener = delimiters[candidate]
        used = 2 if opener.remaining >= 2 and closer.remaining >= 2 else 1
        kind = "strike" if closer.char == "~" else ("strong" if used == 2 else "em")
        opener.remaining -= used
        closer.remaining -= used
        opener.opens.append(kind)
        closer.closes.append(kind)
        following[candidate], previous[current] = current, candidate  # drop delimiters in between
        if opener.remaining == 0:
            unlink(candidate)
        if closer.remaining == 0:
            after = following[current]
            unlink(current)
            current = after


def _pairs(opener: Delimiter, closer: Delimiter) -> bool:
    if opener.char != closer.char or not opener.can_open or opener.remaining == 0:
        return False
    if closer.char == "~":
        return opener.remaining == closer.remaining == 2
    # CommonMark's "rule of 3", which keeps `*foo**bar*` from pairing the wrong runs.
    if (opener.can_close or closer.can_open) and (opener.length + closer.length) % 3 == 0:
        return opener.length % 3 == 0 and closer.length % 3 == 0
    return True


def emit(tokens: list[str | Delimiter], mode: InlineMode) -> str:
    # Slack cannot nest a marker inside itself (`*a *b* c*` breaks), so only the outermost of
    # each kind is written; a heading is bold already, so bold inside it is dropped.
    depth = {"strong": 1 if mode == "heading" else 0, "em": 0, "strike": 0}
    markup = mode != "plain"
    parts: list[str] = []
    opened: list[str] = []  # kinds whose marker is written and not closed yet, outermost first
    for token in tokens:
        if isinstance(token, str):
            if token == LINE_BREAK and opened:  # Slack's markers do not span lines: close, reopen
                parts.extend(_MARKER[kind] for kind in reversed(opened))
                parts.append("\n")
                parts.extend(_MARKER[kind] for kind in opened)
            else:
                parts.append(token)
            continue
        closing = opening = ""
        for kind in token.closes:
            depth[kind] -= 1
            if markup and depth[kind] == 0:
                closing += _MARKER[kind]
                opened.remove(kind)
        for kind in reversed(token.opens):
            if markup and depth[kind] == 0:
                opening += _MARKER[kind]
                opened.append(kind)
            depth[kind] += 1
        literal = token.char * token.remaining
        # `これは*重要*です`, `*bold*text`: Slack wants a word boundary outside each marker.
        if opening and token.glued_before and not (closing or literal):
            opening = ZWSP + opening
        if closing and token.glued_after and not (opening or literal):
            closing += ZWSP
        parts.append(closing + literal + opening)
    return "".join(parts)
