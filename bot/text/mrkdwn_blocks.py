"""The line-by-line blocks of `bot.text.mrkdwn`: headings, rules, lists, quotes and paragraphs.

Fences, tables, comments and link definitions are taken out by `bot.text.mrkdwn` first; every
other line comes here, in order. Two CommonMark rules look back at earlier lines:

- a setext underline (`===` or `---` under a paragraph) turns that paragraph into a heading, so
  those already-rendered lines are rewritten (as a table's header is once its delimiter arrives);
  `---` under a paragraph is a heading, not a rule;
- a plain line right after a quoted paragraph is its lazy continuation, quoted too.

While an answer streams, a lone `-` (or `--`) as the last line is taken for a list item or rule
still being typed, not for an underline, so the paragraph above does not flash bold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from bot.text.mrkdwn_inline import render_inline

__all__ = ["RULE", "Blocks"]

RULE: Final = "─" * 20
"""What a horizontal rule (`---`, `***`, `___`) becomes: Slack has no rule of its own."""

_BULLETS: Final = ("•", "◦", "▪")
_LIST_INDENT: Final = "    "
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*))?$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_QUOTE = re.compile(r"^(?:[ \t]{0,3}>[ \t]?)+")
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(.*)$")
_ORDERED = re.compile(r"^([ \t]*)(\d{1,9}[.)])[ \t]+(.*)$")
_TASK = re.compile(r"^\[([ xX])\][ \t]+")

_Kind = Literal["blank", "paragraph", "list", "quoted_paragraph", "other"]


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


@dataclass(slots=True)
class Blocks:
    """Renders lines one by one, remembering what CommonMark's look-back rules need."""

    refs: Mapping[str, str]
    nesting: _ListNesting = field(default_factory=_ListNesting)
    previous: _Kind = "blank"
    paragraph: list[tuple[int, str]] = field(default_factory=list)  # (index in out, source line)

    def interrupt(self) -> None:
        """Something that is not a line of text (a fence, a table, a definition) came between."""
        self.previous = "other"
        self.paragraph.clear()

    def add_blank(self, out: list[str]) -> None:
        self.previous = "blank"
        self.paragraph.clear()
        out.append("")

    def add(self, line: str, out: list[str], *, last: bool) -> None:
        if not line or line.isspace():
            self.add_blank(out)
            return
        underline = _SETEXT.match(line) if self.paragraph and line[0] in "=- " else None
        if underline and (underline.group(1)[0] == "=" or not last or len(underline.group(1)) >= 3):
            for at, source in self.paragraph:
                out[at] = self._heading(source.strip())
            self.nesting.reset()
            self.interrupt()
            return
        if self.previous == "quoted_paragraph" and _is_plain(line):
            out.append(_prefixed(self._inline(line.strip()), "> "))  # lazy continuation
            return
        rendered, kind = self._line(line)
        if kind == "paragraph" and self.previous == "list":
            kind = "list"  # a lazy continuation of the item above, never the start of a heading
        if kind == "paragraph":
            self.paragraph.append((len(out), line))
        else:
            self.paragraph.clear()
        self.previous = kind
        if rendered or "<!--" not in line:  # a line holding only a comment goes
            out.append(rendered)

    def _inline(self, text: str) -> str:
        return render_inline(text, "mrkdwn", self.refs)

    def _heading(self, title: str) -> str:
        rendered = render_inline(title, "heading", self.refs)
        if "\n" not in rendered:
            return f"*{rendered}*" if rendered.strip() else ""
        return "\n".join(f"*{part}*" if part.strip() else "" for part in rendered.split("\n"))

    def _line(self, line: str) -> tuple[str, _Kind]:
        if not line.strip():
            return "", "blank"
        quote = _QUOTE.match(line)
        if quote:
            inner = line[quote.end() :]
            if not inner.strip():
                return ">", "other"
            rendered, kind = self._line(inner)
            lazy = kind in ("paragraph", "list", "quoted_paragraph")
            return _prefixed(rendered, "> "), "quoted_paragraph" if lazy else "other"
        if _HR.match(line):
            self.nesting.reset()
            return RULE, "other"
        heading = _HEADING.match(line)
        if heading:
            self.nesting.reset()
            return self._heading(_without_closing_hashes(heading.group(2) or "")), "other"
        bullet = _BULLET.match(line)
        if bullet:
            indent, content = bullet.groups()
            depth = self.nesting.depth(len(indent.expandtabs(4)))
            task = _TASK.match(content)
            if task:
                box = "☐" if task.group(1) == " " else "☑"
                content = f"{box} {content[task.end() :]}"
            pad = _LIST_INDENT * depth
            return (
                f"{pad}{_BULLETS[depth % len(_BULLETS)]} {_continued(self._inline(content), pad + '  ')}",
                "list",
            )
        ordered = _ORDERED.match(line)
        if ordered:
            indent, number, content = ordered.groups()
            pad = _LIST_INDENT * self.nesting.depth(len(indent.expandtabs(4)))
            return f"{pad}{number} {_continued(self._inline(content), pad + ' ' * (len(number) + 1))}", "list"
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if not indent:
            self.nesting.reset()
        plain: _Kind = "list" if indent and self.nesting.columns else "paragraph"
        return indent + _continued(self._inline(line[len(indent) :]), indent), plain


def _is_plain(line: str) -> bool:
    """A line that would be paragraph text: nothing that starts a block of its own."""
    if _QUOTE.match(line) or _HR.match(line) or _HEADING.match(line):
        return False
    return not (_BULLET.match(line) or _ORDERED.match(line))


def _prefixed(rendered: str, prefix: str) -> str:
    """Quote every line of `rendered`; a `<br>` inside a quote stays inside it."""
    if "\n" not in rendered:
        return f"{prefix}{rendered}" if rendered else prefix.rstrip()
    return "\n".join(f"{prefix}{part}" if part else prefix.rstrip() for part in rendered.split("\n"))


def _continued(rendered: str, pad: str) -> str:
    """Indent the lines a `<br>` started, so they stay under their list item."""
    return rendered.replace("\n", "\n" + pad) if "\n" in rendered else rendered


def _without_closing_hashes(title: str) -> str:
    """`## Title ##` → `Title`; a `#` that ends a word (`C#`) is part of the title."""
    title = title.strip()
    bare = title.rstrip("#")
    if bare != title and (not bare or bare[-1] in " \t"):
        return bare.rstrip()
    return title
