"""GFM tables for `bot.text.mrkdwn`, as code blocks with aligned columns.

Slack has no tables and pipes only line up in a monospace font, so a table becomes a code block.
Inline markup in cells is reduced to plain text (links as `label (url)`); a `<br>` in a cell
makes the row several lines tall, the other cells of those lines left blank.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from bot.text.mrkdwn_inline import escape_mrkdwn, render_inline

__all__ = ["table"]

_TABLE_DELIMITER_CELL = re.compile(r":?-+:?")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_FENCE = re.compile(r"^[ \t]*(?:`{3,}|~{3,})")


def table(lines: list[str], at: int, refs: Mapping[str, str]) -> tuple[int, list[str]] | None:
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
    while end < len(lines) and lines[end].strip() and "|" in lines[end] and not _FENCE.match(lines[end]):
        end += 1
    width = len(aligns)
    rows = [head] + [_cells(line) for line in lines[at + 2 : end]]
    # A `<br>` in a cell makes its row several lines tall; the other cells leave those lines blank.
    physical = [
        _row_lines([render_inline(cell, "plain", refs) for cell in (row + [""] * width)[:width]])
        for row in rows
    ]
    widths = [
        max(_display_width(line[column]) for row in physical for line in row) for column in range(width)
    ]
    rendered = ["```", *(_table_row(line, widths, aligns) for line in physical[0])]
    rendered.append("-+-".join("-" * w for w in widths))
    rendered.extend(_table_row(line, widths, aligns) for row in physical[1:] for line in row)
    rendered.append("```")
    return end - at, rendered


def _row_lines(cells: list[str]) -> list[list[str]]:
    split = [cell.split("\n") for cell in cells]
    height = max(len(lines) for lines in split)
    return [[lines[i].strip() if i < len(lines) else "" for lines in split] for i in range(height)]


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
