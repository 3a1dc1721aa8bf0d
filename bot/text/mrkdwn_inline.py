"""One line of Markdown's inline syntax as Slack mrkdwn: the inline half of `bot.text.mrkdwn`.

`bot.text.mrkdwn` walks the blocks (fences, headings, lists, quotes, tables) and hands each line's
text here, which is why emphasis, links and code spans never span lines. This module holds what
needs CommonMark's inline rules: emphasis by the delimiter algorithm, code spans, links,
autolinks and bare URLs. It also owns `escape_mrkdwn`, which both halves need; import that from
`bot.text.mrkdwn`.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["InlineMode", "escape_mrkdwn", "render_inline"]

InlineMode = Literal["mrkdwn", "heading", "plain"]
"""How a line is rendered: as mrkdwn, as a heading (bold already), or as plain unescaped text."""

# Characters that may start something; everything between two matches is plain text. URLs are
# found only after a non-word character so "xhttp://" or a path's "/www." stay text.
_INLINE_START = re.compile(r"[`\\!\[<*_~]|(?<![\w/.@-])(?:https?://|www\.)")
_BACKTICKS = re.compile(r"`+")
_DELIMITER_RUN = re.compile(r"\*+|_+|~+")
# Possessive quantifiers (`*+`) where giving characters back can never lead to a match: without
# them "[a](" followed by thousands of spaces takes seconds.
_LINK = re.compile(
    r"!?\[((?:\\.|[^\[\]\\\n]|\[(?:\\.|[^\[\]\\\n])*+\])*+)\]"  # label, one level of nested brackets
    r"\([ \t]*+(<[^<>\n]*+>|(?:\\.|[^\s()\\]|\((?:\\.|[^\s()\\])*+\))*+)"  # destination
    r"(?:[ \t]++(?:\"[^\"\n]*+\"|'[^'\n]*+'|\([^()\n]*+\)))?[ \t]*+\)"  # optional title, ignored
)
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\s<>]*)>")
_EMAIL_AUTOLINK = re.compile(  # CommonMark's email autolink; domain labels are at most 63 long
    r"<([a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]++@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*+)>"
)
_BARE_URL = re.compile(r"(?:https?://|www\.)[^\s<>]*")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_LINK_SCHEMES: Final = frozenset({"http", "https", "mailto", "ftp", "tel"})
_ASCII_PUNCTUATION: Final = frozenset(string.punctuation)
_URL_TRAILING: Final = frozenset("?!.,:;*_~'\"")
_MARKER: Final = {"strong": "*", "em": "_", "strike": "~"}


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's three control characters; Slack wants this in code too, not just prose."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(slots=True, eq=False)
class _Delimiter:
    """A run of `*`, `_` or `~`; matching decides how much of it becomes markup."""

    char: str
    length: int
    can_open: bool
    can_close: bool
    remaining: int
    opens: list[str] = field(default_factory=list)  # innermost first
    closes: list[str] = field(default_factory=list)  # innermost first


def render_inline(src: str, mode: InlineMode) -> str:
    """Convert one line's inline Markdown; "plain" drops markup and does not escape."""
    plain = mode == "plain"
    tokens: list[str | _Delimiter] = []
    delimiters: list[_Delimiter] = []
    unmatched_ticks: set[int] = set()
    pos, end = 0, len(src)
    while pos < end:
        found = _INLINE_START.search(src, pos)
        if found is None:
            tokens.append(_text(src[pos:], plain))
            break
        start = found.start()
        if start > pos:
            tokens.append(_text(src[pos:start], plain))
        char = src[start]
        if char == "`":
            pos = _code_span(src, start, tokens, unmatched_ticks, plain)
        elif char == "\\":
            if start + 1 < end and src[start + 1] in _ASCII_PUNCTUATION:
                tokens.append(_text(src[start + 1], plain))
                pos = start + 2
            else:
                tokens.append("\\")
                pos = start + 1
        elif char in "![":
            link = _LINK.match(src, start) if src.startswith(("[", "!["), start) else None
            if link is None:
                tokens.append(char)
                pos = start + 1
            else:
                tokens.append(_link(link.group(1), link.group(2), plain))
                pos = link.end()
        elif char == "<":
            pos = _autolink(src, start, tokens, plain)
        elif char in "*_~":
            run = _DELIMITER_RUN.match(src, start)
            assert run is not None  # noqa: S101  # the search matched one of these characters here
            pos = run.end()
            delimiter = _delimiter(src, start, pos)
            if delimiter is None:
                tokens.append(run.group())
            else:
                tokens.append(delimiter)
                delimiters.append(delimiter)
        else:
            pos = _bare_url(src, start, tokens, plain)
    _match_emphasis(delimiters)
    return _emit(tokens, mode)


def _text(text: str, plain: bool) -> str:
    return text if plain else escape_mrkdwn(text)


def _code_span(src: str, start: int, tokens: list[str | _Delimiter], unmatched: set[int], plain: bool) -> int:
    ticks = _BACKTICKS.match(src, start)
    assert ticks is not None  # noqa: S101  # called on a backtick
    size, after = len(ticks.group()), ticks.end()
    closing = None
    if size not in unmatched:  # once a length found no closer, no later run of it will either
        closing = next((m for m in _BACKTICKS.finditer(src, after) if len(m.group()) == size), None)
    if closing is None:
        unmatched.add(size)
        tokens.append(ticks.group())
        return after
    content = src[after : closing.start()]
    if len(content) > 2 and content[0] == " " and content[-1] == " " and content.strip(" "):
        content = content[1:-1]
    if plain:
        tokens.append(content)
    elif content.strip() and "`" not in content:
        tokens.append(f"`{escape_mrkdwn(content)}`")
    else:  # Slack cannot show backticks inside inline code; keep the original text
        tokens.append(escape_mrkdwn(src[start : closing.end()]))
    return closing.end()


def _link(label: str, destination: str, plain: bool) -> str:
    text = render_inline(label, "plain").strip()
    if destination.startswith("<") and destination.endswith(">"):
        destination = destination[1:-1]
    destination = _BACKSLASH_ESCAPE.sub(r"\1", destination).strip()
    if plain:
        if text and destination and text != destination:
            return f"{text} ({destination})"
        return text or destination
    scheme = _SCHEME.match(destination)
    if scheme and scheme.group(1).lower() in _LINK_SCHEMES:
        url = destination
    elif destination.startswith("www."):
        url = "http://" + destination
    else:  # relative paths, anchors, javascript: … Slack cannot open them; keep the words
        return escape_mrkdwn(text or destination)
    if not text or text == destination:
        return f"<{_slack_url(url)}>"
    return f"<{_slack_url(url)}|{escape_mrkdwn(text)}>"


def _slack_url(url: str) -> str:
    # Inside <url|label>, `|` and `>` would end the URL early; percent-encoding keeps it working.
    return (
        url.replace("&", "&amp;")
        .replace("<", "%3C")
        .replace(">", "%3E")
        .replace("|", "%7C")
        .replace(" ", "%20")
    )


def _autolink(src: str, start: int, tokens: list[str | _Delimiter], plain: bool) -> int:
    link = _AUTOLINK.match(src, start)
    if link:
        scheme = _SCHEME.match(link.group(1))
        if scheme and scheme.group(1).lower() in _LINK_SCHEMES:
            tokens.append(link.group(1) if plain else f"<{_slack_url(link.group(1))}>")
            return link.end()
    email = _EMAIL_AUTOLINK.match(src, start)
    if email:
        address = email.group(1)
        tokens.append(address if plain else f"<mailto:{_slack_url(address)}|{escape_mrkdwn(address)}>")
        return email.end()
    tokens.append(_text("<", plain))
    return start + 1


def _bare_url(src: str, start: int, tokens: list[str | _Delimiter], plain: bool) -> int:
    """Keep a bare URL as one piece (Slack links it), so `_` in a URL never turns into italics."""
    match = _BARE_URL.match(src, start)
    assert match is not None  # noqa: S101  # the search matched a URL prefix here
    url = match.group()
    opened, closed = url.count("("), url.count(")")
    # GFM's rule: trailing punctuation and an unbalanced ")" belong to the sentence, not the URL.
    while url:
        last = url[-1]
        if last in _URL_TRAILING:
            url = url[:-1]
        elif last == ")" and closed > opened:
            url = url[:-1]
            closed -= 1
        else:
            break
    if url in ("http://", "https://", "www."):
        url = src[start]  # no address yet (still streaming): let the rest be read as text
    tokens.append(_text(url, plain))
    return start + len(url)


def _delimiter(src: str, start: int, end: int) -> _Delimiter | None:
    """A `*`/`_`/`~` run with CommonMark's flanking rules, or None when it can only be literal."""
    char, length = src[start], end - start
    if char == "~" and length != 2:
        return None
    before = src[start - 1] if start > 0 else " "
    after = src[end] if end < len(src) else " "
    if char != "_" and before.isalnum() and after.isalnum():
        return None
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
    return _Delimiter(char, length, can_open, can_close, length)


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char)[0] in ("P", "S")


def _match_emphasis(delimiters: list[_Delimiter]) -> None:
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


def _pairs(opener: _Delimiter, closer: _Delimiter) -> bool:
    if opener.char != closer.char or not opener.can_open or opener.remaining == 0:
        return False
    if closer.char == "~":
        return opener.remaining == closer.remaining == 2
    # CommonMark's "rule of 3", which keeps `*foo**bar*` from pairing the wrong runs.
    if (opener.can_close or closer.can_open) and (opener.length + closer.length) % 3 == 0:
        return opener.length % 3 == 0 and closer.length % 3 == 0
    return True


def _emit(tokens: list[str | _Delimiter], mode: InlineMode) -> str:
    # Slack cannot nest a marker inside itself (`*a *b* c*` breaks), so only the outermost of
    # each kind is written; a heading is bold already, so bold inside it is dropped.
    depth = {"strong": 1 if mode == "heading" else 0, "em": 0, "strike": 0}
    markup = mode != "plain"
    parts: list[str] = []
    for token in tokens:
        if isinstance(token, str):
            parts.append(token)
            continue
        for kind in token.closes:
            depth[kind] -= 1
            if markup and depth[kind] == 0:
                parts.append(_MARKER[kind])
        parts.append(token.char * token.remaining)
        for kind in reversed(token.opens):
            if markup and depth[kind] == 0:
                parts.append(_MARKER[kind])
            depth[kind] += 1
    return "".join(parts)
