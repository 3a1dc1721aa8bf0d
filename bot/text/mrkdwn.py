"""Convert Markdown as LLMs write it into Slack mrkdwn.

Slack's `text` field speaks mrkdwn, not Markdown: `*bold*`, `_italic_`, `~strike~`,
`<url|label>`, no headings, no tables, and `&`, `<`, `>` are control characters everywhere,
code included. Models answer in CommonMark/GFM, so without this Slack shows `**` and `##` raw.

The converter runs on the *partial* answer about once a second while it streams, so it is built
for that:

- total: any string converts, nothing raises;
- line-local inline formatting: emphasis, links and code spans never span lines, so text still to
  come changes earlier lines only through block structure (a line of pipes becomes a table's
  header once the delimiter row arrives; list nesting and open fences carry forward as they must);
- an unclosed fence renders as a closed code block, so a half-streamed code block looks like code;
- one pass over the lines with precompiled regexes; emphasis uses CommonMark's delimiter
  algorithm on a linked list, so it stays linear in practice.

Choices worth knowing:

- Code (spans and fenced blocks) is kept verbatim apart from the escaping Slack requires; the
  fence's language tag is dropped (Slack would print it) and `~~~` fences become backtick ones.
- GFM tables become a code block with aligned columns: Slack has no tables, and pipes only line up
  in a monospace font. Inline markup in cells is reduced to plain text (links as `label (url)`).
- Only `~~double~~` tildes strike through; a single `~` is left alone ("~5 minutes" is common).
- `*`/`~` runs between two letters or digits stay literal: Slack cannot format inside a word and
  `2*3*4` is more likely arithmetic than emphasis.
- HTML and Slack control sequences written by the model are escaped, so an answer can never ping
  `@channel` or mention people by writing `<!channel>` or `<@U123>`.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["RULE", "escape_mrkdwn", "markdown_to_mrkdwn"]

RULE: Final = "─" * 20
"""What a horizontal rule (`---`, `***`, `___`) becomes: Slack has no rule of its own."""

_BULLETS: Final = ("•", "◦", "▪")
_LIST_INDENT: Final = "    "
_FENCE: Final = "```"

_Mode = Literal["mrkdwn", "heading", "plain"]

# -- block patterns ------------------------------------------------------------------------------
# Fences are accepted at any indentation: models indent them inside list items, often by more than
# the three spaces CommonMark allows, and an unrecognised fence would mangle the whole block.
_FENCE_OPEN = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")
_FENCE_CLOSE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*$")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*))?$")
_QUOTE = re.compile(r"^(?:[ \t]{0,3}>[ \t]?)+")
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(.*)$")
_ORDERED = re.compile(r"^([ \t]*)(\d{1,9}[.)])[ \t]+(.*)$")
_TASK = re.compile(r"^\[([ xX])\][ \t]+")
_TABLE_DELIMITER_CELL = re.compile(r":?-+:?")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")

# -- inline patterns -----------------------------------------------------------------------------
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


def markdown_to_mrkdwn(md: str) -> str:
    """Render Markdown (possibly a partial, still-streaming answer) as Slack mrkdwn."""
    lines = md.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    nesting = _ListNesting()
    fence: _OpenFence | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if fence is not None:
            if fence.is_closed_by(line):
                out.append(_FENCE)
                fence = None
            else:
                out.append(escape_mrkdwn(fence.dedent(line)))
            continue
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            indent, marker = opening.group(1), opening.group(2)
            if not indent:
                nesting.reset()
            fence = _OpenFence(marker[0], len(marker), len(indent.expandtabs(4)), len(out))
            out.append(_FENCE)
            continue
        table = _table(lines, index - 1)
        if table is not None:
            consumed, rendered = table
            nesting.reset()
            out.extend(rendered)
            index += consumed - 1
            continue
        out.append(_block_line(line, nesting))
    if fence is not None:
        _close_streaming_fence(out, fence.out_index)
    return "\n".join(out)


@dataclass(slots=True)
class _OpenFence:
    char: str
    length: int
    indent: int
    out_index: int

    def is_closed_by(self, line: str) -> bool:
        closing = _FENCE_CLOSE.match(line)
        return (
            closing is not None and closing.group(1)[0] == self.char and len(closing.group(1)) >= self.length
        )

    def dedent(self, line: str) -> str:
        # Content of an indented fence is indented by the fence's own indentation; drop that much.
        strip = 0
        while strip < self.indent and strip < len(line) and line[strip] == " ":
            strip += 1
        return line[strip:]


def _close_streaming_fence(out: list[str], opened_at: int) -> None:
    """Close a fence the text has not closed (yet), so a partial answer shows a code block."""
    if len(out) - 1 > opened_at and out[-1] == "":
        out.pop()  # the newline that ends the streamed text is not a blank line of code
    if len(out) - 1 == opened_at:
        out.pop()  # nothing inside yet: an empty code block would show as stray backticks
        return
    out.append(_FENCE)


@dataclass(slots=True)
class _ListNesting:
    """Indentation columns of the open list items, so nesting works with 2, 3 or 4 space indents."""

    columns: list[int] = field(default_factory=list)

    def depth(self, column: int) -> int:
        while self.columns and self.columns[-1] > column:
            self.columns.pop()
        if not self.columns or self.columns[-1] < column:
            self.columns.append(column)
        return len(self.columns) - 1

    def reset(self) -> None:
        self.columns.clear()


def _block_line(line: str, nesting: _ListNesting) -> str:
    if not line.strip():
        return ""
    quote = _QUOTE.match(line)
    if quote:
        inner = line[quote.end() :]
        rendered = _block_line(inner, nesting) if inner.strip() else ""
        return f"> {rendered}" if rendered else ">"
    if _HR.match(line):
        nesting.reset()
        return RULE
    heading = _HEADING.match(line)
    if heading:
        nesting.reset()
        title = _inline(_without_closing_hashes(heading.group(2) or ""), "heading")
        return f"*{title}*" if title else ""
    bullet = _BULLET.match(line)
    if bullet:
        indent, content = bullet.groups()
        depth = nesting.depth(len(indent.expandtabs(4)))
        task = _TASK.match(content)
        if task:
            box = "☐" if task.group(1) == " " else "☑"
            content = f"{box} {content[task.end() :]}"
        return f"{_LIST_INDENT * depth}{_BULLETS[depth % len(_BULLETS)]} {_inline(content, 'mrkdwn')}"
    ordered = _ORDERED.match(line)
    if ordered:
        indent, number, content = ordered.groups()
        depth = nesting.depth(len(indent.expandtabs(4)))
        return f"{_LIST_INDENT * depth}{number} {_inline(content, 'mrkdwn')}"
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    if not indent:
        nesting.reset()
    return indent + _inline(line[len(indent) :], "mrkdwn")


def _without_closing_hashes(title: str) -> str:
    """`## Title ##` → `Title`; a `#` that ends a word (`C#`) is part of the title."""
    title = title.strip()
    bare = title.rstrip("#")
    if bare != title and (not bare or bare[-1] in " \t"):
        return bare.rstrip()
    return title


# -- tables --------------------------------------------------------------------------------------


def _table(lines: list[str], at: int) -> tuple[int, list[str]] | None:
    """A GFM table starting at `lines[at]` as (lines consumed, code block lines), or None."""
    header = lines[at]
    if "|" not in header or at + 1 >= len(lines):
        return None
    delimiter = lines[at + 1]
    if "|" not in delimiter:
        return None
    delimiter_cells = _cells(delimiter)
    if not all(_TABLE_DELIMITER_CELL.fullmatch(cell) for cell in delimiter_cells):
        return None
    head = _cells(header)
    aligns = [_alignment(cell) for cell in delimiter_cells]
    if len(head) != len(aligns):
        return None
    end = at + 2
    while end < len(lines) and lines[end].strip() and "|" in lines[end] and not _FENCE_OPEN.match(lines[end]):
        end += 1
    width = len(aligns)
    rows = [head] + [_cells(line) for line in lines[at + 2 : end]]
    plain = [[_inline(cell, "plain") for cell in (row + [""] * width)[:width]] for row in rows]
    widths = [max(_display_width(row[column]) for row in plain) for column in range(width)]
    rendered = [_FENCE, _table_row(plain[0], widths, aligns)]
    rendered.append("-+-".join("-" * w for w in widths))
    rendered.extend(_table_row(row, widths, aligns) for row in plain[1:])
    rendered.append(_FENCE)
    return end - at, rendered


def _cells(row: str) -> list[str]:
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(row)]


def _alignment(delimiter_cell: str) -> str:
    if delimiter_cell.endswith(":"):
        return "^" if delimiter_cell.startswith(":") else ">"
    return "<"


def _table_row(cells: list[str], widths: list[int], aligns: list[str]) -> str:
    padded = []
    for cell, width, align in zip(cells, widths, aligns, strict=True):
        gap = width - _display_width(cell)
        if align == ">":
            padded.append(" " * gap + cell)
        elif align == "^":
            padded.append(" " * (gap // 2) + cell + " " * (gap - gap // 2))
        else:
            padded.append(cell + " " * gap)
    return escape_mrkdwn(" | ".join(padded).rstrip())


def _display_width(text: str) -> int:
    """Columns in a monospace font: East Asian wide characters take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


# -- inline --------------------------------------------------------------------------------------


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


def _inline(src: str, mode: _Mode) -> str:
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
    text = _inline(label, "plain").strip()
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


def _emit(tokens: list[str | _Delimiter], mode: _Mode) -> str:
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
