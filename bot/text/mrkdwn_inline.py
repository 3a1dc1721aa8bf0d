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
from collections.abc import Mapping
from typing import Final

from bot.text.mrkdwn_emphasis import (
    LINE_BREAK,
    ZWSP,
    Delimiter,
    InlineMode,
    delimiter_at,
    emit,
    match_emphasis,
)
from bot.text.mrkdwn_html import BREAK, COMMENT_CLOSE, COMMENT_OPEN, decode_entities

__all__ = ["ZWSP", "InlineMode", "escape_mrkdwn", "reference_key", "render_inline"]


# Characters that may start something; everything between two matches is plain text. URLs are
# found only after a non-word character so "xhttp://" or a path's "/www." stay text.
_INLINE_START = re.compile(r"[`\\!\[<*_~]|(?<![\w/.@-])(?:https?://|www\.)")
_REFERENCE = re.compile(  # `[text][ref]`, `[text][]` and `[ref]`, resolved against the definitions
    r"!?\[((?:\\.|[^\[\]\\\n]|\[(?:\\.|[^\[\]\\\n])*+\])*+)\](?:\[((?:\\.|[^\[\]\\\n])*+)\])?"
)
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
_SLACK_MARKERS: Final = frozenset("*_~`")


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's three control characters; Slack wants this in code too, not just prose."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def reference_key(label: str) -> str:
    """CommonMark's label matching: case-insensitive, runs of whitespace count as one space."""
    return " ".join(label.split()).casefold()


def render_inline(src: str, mode: InlineMode, refs: Mapping[str, str] | None = None) -> str:
    """Convert one line's inline Markdown; "plain" drops markup and does not escape.

    `refs` maps reference keys to destinations, for reference-style links. A `<br>` becomes a
    newline in the result (the only way one gets there), with open markers closed around it.
    """
    plain = mode == "plain"
    tokens: list[str | Delimiter] = []
    delimiters: list[Delimiter] = []
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
                escaped = src[start + 1]
                if escaped in _SLACK_MARKERS and not plain:  # shown as itself, never as Slack markup
                    tokens.append(f"{ZWSP}{escaped}{ZWSP}")
                else:
                    tokens.append(_text(escaped, plain))
                pos = start + 2
            else:
                tokens.append("\\")
                pos = start + 1
        elif char in "![":
            link = _LINK.match(src, start) if src.startswith(("[", "!["), start) else None
            if link is not None:
                tokens.append(_link(link.group(1), link.group(2), plain))
                pos = link.end()
            elif refs and (destination := _reference(src, start, refs)) is not None:
                label, pos, url = destination
                tokens.append(_link(label, url, plain))
            else:
                tokens.append(char)
                pos = start + 1
        elif char == "<":
            pos = _angle(src, start, tokens, plain)
        elif char in "*_~":
            run = _DELIMITER_RUN.match(src, start)
            assert run is not None  # noqa: S101  # the search matched one of these characters here
            pos = run.end()
            delimiter = delimiter_at(src, start, pos)
            if delimiter is None:
                tokens.append(run.group())
            else:
                tokens.append(delimiter)
                delimiters.append(delimiter)
        else:
            pos = _bare_url(src, start, tokens, plain)
    match_emphasis(delimiters)
    return emit(tokens, mode)


def _text(text: str, plain: bool) -> str:
    # Entities hold no character that starts inline syntax, so each is whole inside one text run.
    if "&" in text:
        text = decode_entities(text)
    return text if plain else escape_mrkdwn(text)


def _reference(src: str, start: int, refs: Mapping[str, str]) -> tuple[str, int, str] | None:
    """A reference-style link at `start` as (label, end, destination), if its label is defined."""
    if not src.startswith(("[", "!["), start):
        return None
    match = _REFERENCE.match(src, start)
    if match is None:
        return None
    label, ref = match.group(1), match.group(2)
    url = refs.get(reference_key(ref or label))
    if url is None:
        return None
    return label, match.end(), url


def _code_span(src: str, start: int, tokens: list[str | Delimiter], unmatched: set[int], plain: bool) -> int:
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
    text = render_inline(label, "plain").replace("\n", " ").strip()
    if destination.startswith("<") and destination.endswith(">"):
        destination = destination[1:-1]
    destination = _BACKSLASH_ESCAPE.sub(r"\1", destination).strip()
    if "&" in destination:
        destination = decode_entities(destination)
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


def _angle(src: str, start: int, tokens: list[str | Delimiter], plain: bool) -> int:
    """What a `<` starts: a `<br>`, a comment (dropped), an autolink, or an escaped `<`."""
    br = BREAK.match(src, start)
    if br:
        tokens.append(LINE_BREAK)
        return br.end()
    if src.startswith(COMMENT_OPEN, start):
        close = src.find(COMMENT_CLOSE, start + len(COMMENT_OPEN))
        end = len(src) if close < 0 else close + len(COMMENT_CLOSE)
        if (start == 0 or src[start - 1] == " ") and src.startswith(" ", end):
            end += 1  # "a <!-- x --> b" reads "a b"
        return end
    return _autolink(src, start, tokens, plain)


def _autolink(src: str, start: int, tokens: list[str | Delimiter], plain: bool) -> int:
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


def _bare_url(src: str, start: int, tokens: list[str | Delimiter], plain: bool) -> int:
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
