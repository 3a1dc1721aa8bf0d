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

This module does the block level (fences, headings, lists, quotes, tables) and the public
entry points; each line's inline text goes to `bot.text.mrkdwn_inline`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Final

from bot.text.mrkdwn_inline import escape_mrkdwn, render_inline

__all__ = ["RULE", "escape_mrkdwn", "markdown_to_mrkdwn"]

RULE: Final = "─" * 20
"""What a horizontal rule (`---`, `***`, `___`) becomes: Slack has no rule of its own."""

_BULLETS: Final = ("•", "◦", "▪")
_LIST_INDENT: Final = "    "
_FENCE: Final = "```"

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
        title = render_inline(_without_closing_hashes(heading.group(2) or ""), "heading")
        return f"*{title}*" if title else ""
    bullet = _BULLET.match(line)
    if bullet:
        indent, content = bullet.groups()
        depth = nesting.depth(len(indent.expandtabs(4)))
        task = _TASK.match(content)
        if task:
            box = "☐" if task.group(1) == " " else "☑"
            content = f"{box} {content[task.end() :]}"
        return f"{_LIST_INDENT * depth}{_BULLETS[depth % len(_BULLETS)]} {render_inline(content, 'mrkdwn')}"
    ordered = _ORDERED.match(line)
    if ordered:
        indent, number, content = ordered.groups()
        depth = nesting.depth(len(indent.expandtabs(4)))
        return f"{_LIST_INDENT * depth}{number} {render_inline(content, 'mrkdwn')}"
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    if not indent:
        nesting.reset()
    return indent + render_inline(line[len(indent) :], "mrkdwn")


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
    plain = [[render_inline(cell, "plain") for cell in (row + [""] * width)[:width]] for row in rows]
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
