"""The bits of HTML models put in Markdown, for `bot.text.mrkdwn`: entities, `<br>` and comments.

Models write `&copy;`, `&nbsp;` or `&#x27;` and mean the character; `<br>` to break a line inside
a table cell; `<!-- … -->` for notes nobody should see. Slack would show all of them raw (after
escaping, `&amp;copy;`), so they are decoded, turned into line breaks, or dropped. Everything else
HTML stays escaped text: Slack cannot render it, and `<` must never reach Slack unescaped.
"""

from __future__ import annotations

import html
import re
from html.entities import html5
from typing import Final

__all__ = ["BREAK", "COMMENT_CLOSE", "COMMENT_OPEN", "decode_entities", "open_comment_at"]

# CommonMark's entity and numeric character references: always with the closing `;`.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
BREAK: Final = re.compile(r"<br[ \t]*/?>", re.IGNORECASE)
COMMENT_OPEN: Final = "<!--"
COMMENT_CLOSE: Final = "-->"


def decode_entities(text: str) -> str:
    """`&copy;` → `©`, `&#x27;` → `'`; unknown names stay as written, as CommonMark says."""
    if "&" not in text:
        return text
    return _ENTITY.sub(_decode, text)


def _decode(match: re.Match[str]) -> str:
    reference = match.group()
    if reference[1] != "#" and reference[1:] not in html5:
        return reference
    return html.unescape(reference)


def open_comment_at(line: str) -> int:
    """Where a comment that this line does not close starts, or -1.

    Comments inside code spans are code: a `<!--` after an odd number of backticks is skipped.
    Closed comments are left for the inline renderer, which drops them.
    """
    start = line.find(COMMENT_OPEN)
    ticks, counted = 0, 0
    while start >= 0:
        ticks += line.count("`", counted, start)
        counted = start
        if ticks % 2 == 0:
            end = line.find(COMMENT_CLOSE, start + len(COMMENT_OPEN))
            if end < 0:
                return start
            start = line.find(COMMENT_OPEN, end + len(COMMENT_CLOSE))
        else:
            start = line.find(COMMENT_OPEN, start + 1)
    return -1
