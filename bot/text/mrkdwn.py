"""Convert Markdown as LLMs write it into Slack mrkdwn.

Slack's `text` field speaks mrkdwn, not Markdown: `*bold*`, `_italic_`, `~strike~`,
`<url|label>`, no headings, no tables, and `&`, `<`, `>` are control characters everywhere,
code included. Models answer in CommonMark/GFM, so without this Slack shows `**` and `##` raw.

The converter runs on the *partial* answer about once a second while it streams, so it is built
for that:

- total: any string converts, nothing raises;
- line-local inline formatting: emphasis, links and code spans never span lines, so text still to
  come changes earlier lines only through block structure (a line of pipes becomes a table's
  header once the delimiter row arrives, a `===`/`---` underline makes the paragraph above a
  heading, a `[ref]: url` definition turns `[text][ref]` above into a link; list nesting, open
  fences and open `<!--` comments carry forward as they must);
- an unclosed fence renders as a closed code block, so a half-streamed code block looks like code;
- one pass over the lines with precompiled regexes (plus a cheap one for link definitions);
  emphasis uses CommonMark's delimiter algorithm on a linked list, so it stays linear in practice.

Choices worth knowing:

- Code (spans and fenced blocks) is kept verbatim apart from the escaping Slack requires; the
  fence's language tag is dropped (Slack would print it) and `~~~` fences become backtick ones.
- GFM tables become a code block with aligned columns: Slack has no tables, and pipes only line up
  in a monospace font. Inline markup in cells is reduced to plain text (links as `label (url)`).
- Only `~~double~~` tildes strike through; a single `~` is left alone ("~5 minutes" is common).
- Slack formats only at word boundaries, so a marker glued to a letter or ideograph
  (`これは**重要**です`, `**bold**text`) gets a zero-width space outside it, and an escaped
  `\\*` gets them around it so Slack cannot pair it. A `*` run between two digits stays literal:
  `2*3*4` is more likely arithmetic than emphasis.
- HTML entities are decoded (then escaped again), `<br>` breaks the line, comments disappear;
  any other HTML and Slack control sequences written by the model are escaped, so an answer can
  never ping `@channel` or mention people by writing `<!channel>` or `<@U123>`.

This module does fences, tables, comments and link definitions and the public entry point; the
other blocks are `bot.text.mrkdwn_blocks`, tables `bot.text.mrkdwn_table`, and each line's inline
text goes to `bot.text.mrkdwn_inline` (emphasis in `mrkdwn_emphasis`, HTML in `mrkdwn_html`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bot.text import mrkdwn_table
from bot.text.mrkdwn_blocks import RULE, Blocks
from bot.text.mrkdwn_html import COMMENT_CLOSE, COMMENT_OPEN, open_comment_at
from bot.text.mrkdwn_inline import escape_mrkdwn, reference_key

__all__ = ["RULE", "escape_mrkdwn", "markdown_to_mrkdwn"]

_FENCE: Final = "```"

# -- block patterns ------------------------------------------------------------------------------
# Fences are accepted at any indentation: models indent them inside list items, often by more than
# the three spaces CommonMark allows, and an unrecognised fence would mangle the whole block.
_FENCE_OPEN = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")
_FENCE_CLOSE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*$")
_DEFINITION = re.compile(
    r" {0,3}\[((?:\\.|[^\[\]\\\n])++)\]:[ \t]*+(<[^<>\n]*+>|\S++)"
    r"(?:[ \t]++(?:\"[^\"\n]*+\"|'[^'\n]*+'|\([^()\n]*+\)))?[ \t]*+"
)


def markdown_to_mrkdwn(md: str) -> str:
    """Render Markdown (possibly a partial, still-streaming answer) as Slack mrkdwn."""
    lines = md.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    refs, definitions = _definitions(lines)
    out: list[str] = []
    blocks = Blocks(refs)
    fence: _OpenFence | None = None
    in_comment = False
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
        if in_comment:  # inside a multi-line `<!-- … -->`: nothing shows until it closes
            close = line.find(COMMENT_CLOSE)
            if close < 0:
                continue
            in_comment = False
            line = line[close + len(COMMENT_CLOSE) :].lstrip()
            if not line:
                continue
        if not line or line.isspace():
            blocks.add_blank(out)
            continue
        if definitions and index - 1 in definitions:  # `[ref]: url` lines only feed the links that use them
            blocks.interrupt()
            continue
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            indent, marker = opening.group(1), opening.group(2)
            if not indent:
                blocks.nesting.reset()
            blocks.interrupt()
            fence = _OpenFence(marker[0], len(marker), len(indent.expandtabs(4)), len(out))
            out.append(_FENCE)
            continue
        comment = open_comment_at(line) if COMMENT_OPEN in line else -1
        if comment >= 0:
            in_comment = True
            line = line[:comment].rstrip()
            if not line:
                continue
        table = mrkdwn_table.table(lines, index - 1, refs)
        if table is not None:
            consumed, rendered = table
            blocks.nesting.reset()
            blocks.interrupt()
            out.extend(rendered)
            index += consumed - 1
            continue
        blocks.add(line, out, last=index == len(lines))
    if fence is not None:
        _close_streaming_fence(out, fence.out_index)
    if definitions and max(definitions) == _last_nonblank(lines):
        while len(out) > 1 and not out[-1]:
            out.pop()  # the blank lines that only separated the text from its definitions
    return "\n".join(out)


def _definitions(lines: list[str]) -> tuple[dict[str, str], set[int]]:
    """Link reference definitions outside code, as (key → destination, their line indexes)."""
    refs: dict[str, str] = {}
    at: set[int] = set()
    fence: _OpenFence | None = None
    for index, line in enumerate(lines):
        if fence is not None:
            if fence.is_closed_by(line):
                fence = None
            continue
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            fence = _OpenFence(opening.group(2)[0], len(opening.group(2)), 0, 0)
            continue
        definition = _DEFINITION.fullmatch(line) if "]:" in line else None
        # `[^1]: …` is a GFM footnote, not a link: its text stays where the model put it.
        if definition and definition.group(1).strip() and not definition.group(1).startswith("^"):
            refs.setdefault(reference_key(definition.group(1)), definition.group(2))
            at.add(index)
    return refs, at


def _last_nonblank(lines: list[str]) -> int:
    index = len(lines) - 1
    while index > 0 and not lines[index].strip():
        index -= 1
    return index


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
