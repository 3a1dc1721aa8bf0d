"""Split rendered mrkdwn into Slack-sized messages, and join the pieces back exactly.

`chat.update` refuses text over 4,000 characters (`msg_too_long`), so a long answer continues in
further messages. Where the cut falls decides how readable the result is:

1. after a blank line (a paragraph break), else
2. at a line break, else
3. after a space, else
4. anywhere (a hard cut),

with the first three preferred only when they leave the chunk at least a third full (so a short
first paragraph does not become a message of its own). No cut falls inside an entity (`&amp;`)
or a `<...>` link or mention token, or between a character and a combining mark that follows it,
unless the token alone is longer than a chunk. A cut inside a code block closes the block at the
end of the chunk (`CLOSE_FENCE`, a line of three backticks) and reopens it at the start of the
next one (`OPEN_FENCE`), so both halves render as code.

Exactness: every chunk is a slice of the text plus, at most, those added fences. At a cut outside
code the whitespace stays at the end of the earlier chunk, where it shows least (the next message
starts with text); at a line cut inside code the newline starts the next chunk, right after the
reopened fence. `join_chunks` removes the added fences and concatenates, so
`join_chunks(split_mrkdwn(t, n)) == t` for every `t` and every `n >= MIN_LIMIT`. The added fences
are recognisable because no chunk is ever cut right after a backtick (only a text made of nothing
but backticks could force that, and it contains no line break to be confused with a fence).

Streaming stability: cuts are chosen greedily from the start, and each is decided from the text
up to five characters past the end of its chunk (a chunk that is not the last always has those).
So if `t` splits into `k` chunks, the first `k - 1` chunks of `split_mrkdwn(t + more, n)` are the
same; only the last chunk of `t` can change (it grows or is split). The renderer re-converts the
whole answer each time, and Markdown further on can change how earlier text renders (an unclosed
fence gets closed, a table gains its header row), so in that pipeline earlier chunks are stable
*normally*, not always.

An empty text gives no chunks (`[]`); a text that fits gives `[text]` unchanged.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from typing import Final

__all__ = ["CLOSE_FENCE", "MIN_LIMIT", "OPEN_FENCE", "join_chunks", "split_mrkdwn"]

OPEN_FENCE: Final = "```"
"""Put at the start of a chunk that continues a code block."""
CLOSE_FENCE: Final = "\n```"
"""Put at the end of a chunk whose code block continues in the next chunk."""
MIN_LIMIT: Final = 16
"""Smallest `limit` accepted: room for both added fences and still a few characters of text."""

_TOKEN = re.compile(r"<[^<>\n]*>?")
_ENTITY = re.compile(r"&[#a-zA-Z0-9]{1,8};?")
_ZERO_WIDTH_JOINERS: Final = frozenset("\u200c\u200d")


def split_mrkdwn(text: str, limit: int) -> list[str]:
    """Cut `text` into chunks of at most `limit` characters each; see the module docstring."""
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}, not {limit}")
    if not text:
        return []
    layout = _Layout(text)
    chunks: list[str] = []
    start, reopened = 0, False
    while True:
        head = OPEN_FENCE if reopened else ""
        if len(text) - start + len(head) <= limit:
            chunks.append(head + text[start:])
            return chunks
        # Every candidate keeps room for a closing fence: whether one is needed depends on the cut.
        cut = layout.cut(start, start + limit - len(head) - len(CLOSE_FENCE))
        reopened = layout.in_code(cut)
        chunks.append(head + text[start:cut] + (CLOSE_FENCE if reopened else ""))
        start = cut


def join_chunks(chunks: list[str]) -> str:
    """Undo `split_mrkdwn`: drop the fences it added and concatenate."""
    joined = ""
    reopened = False
    for index, chunk in enumerate(chunks):
        if reopened and chunk.startswith(OPEN_FENCE):
            chunk = chunk[len(OPEN_FENCE) :]
        reopened = False
        if index < len(chunks) - 1 and chunk.endswith(CLOSE_FENCE):
            body = chunk[: -len(CLOSE_FENCE)]
            if _in_code_after(joined + body):
                chunk, reopened = body, True
        joined += chunk
    return joined


def _is_fence_line(line: str) -> bool:
    """Whether a line opens or closes a code block: it starts with ``` and does not close itself.

    Line-based, like the converter's output; a line such as ```x``` is a one-line block.
    """
    return line.lstrip(" \t").startswith("```") and line.count("```") % 2 == 1


def _in_code_after(text: str) -> bool:
    """Whether the end of `text` (its last line possibly partial) is inside a code block."""
    inside = False
    for line in text.split("\n"):
        if _is_fence_line(line):
            inside = not inside
    return inside


class _Layout:
    """What the cut search needs to know about a text, computed once per split."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0]
        self.code_before_line = [False]  # inside a code block at the start of each line?
        inside = False
        position = 0
        for line in text.split("\n"):
            if _is_fence_line(line):
                inside = not inside
            position += len(line) + 1
            self.line_starts.append(position)
            self.code_before_line.append(inside)
        self.tokens = [m.span() for m in _TOKEN.finditer(text)]
        self.entities = [m.span() for m in _ENTITY.finditer(text)]

    def in_code(self, position: int) -> bool:
        """Whether a cut at `position` leaves the chunk before it inside a code block."""
        line = bisect.bisect_right(self.line_starts, position) - 1
        inside = self.code_before_line[line]
        line_start = self.line_starts[line]
        if position > line_start and _is_fence_line(self.text[line_start:position]):
            inside = not inside
        return inside

    def cut(self, start: int, end: int) -> int:
        """Where to end the chunk that starts at `start`; the cut is in (start, end]."""
        for floor in (start + (end - start) // 3, start):
            for search in (self._paragraph_cut, self._line_cut, self._space_cut):
                cut = search(floor, end)
                if cut is not None:
                    return cut
        return self._hard_cut(start, end)

    def _paragraph_cut(self, floor: int, end: int) -> int | None:
        text = self.text
        found = text.rfind("\n\n", floor, end)
        while found >= 0:
            cut = found + 2
            if text[cut] != "\n" and not self.in_code(cut) and self._clean(cut):
                return cut
            found = text.rfind("\n\n", floor, found + 1)
        return None

    def _line_cut(self, floor: int, end: int) -> int | None:
        text = self.text
        found = text.rfind("\n", floor, end + 1)
        while found >= 0:
            if self.in_code(found):
                # Inside code the newline starts the next chunk, right after the reopened fence.
                # Not just before the closing fence: the next chunk would open with an empty block.
                cut = found
                closing_next = text.startswith(OPEN_FENCE, found + 1)
                if cut > floor and text[cut - 1] != "`" and not closing_next and self._clean(cut):
                    return cut
            else:
                cut = found + 1
                if cut <= end and text[cut] != "\n" and self._clean(cut):
                    return cut
            found = text.rfind("\n", floor, found)
        return None

    def _space_cut(self, floor: int, end: int) -> int | None:
        text = self.text
        space, tab = text.rfind(" ", floor, end), text.rfind("\t", floor, end)
        while space >= 0 or tab >= 0:
            found = max(space, tab)
            cut = found + 1
            if text[cut] not in " \t\n" and self._clean(cut):
                return cut
            if found == space:
                space = text.rfind(" ", floor, found)
            else:
                tab = text.rfind("\t", floor, found)
        return None

    def _hard_cut(self, start: int, end: int) -> int:
        text = self.text
        # Relax the niceties one by one when a token or entity is longer than the whole chunk.
        for clean in (self._clean, self._clean_of_entities, self._whole_character, _anywhere):
            for cut in range(end, start, -1):
                if text[cut - 1] != "`" and clean(cut):
                    return cut
        return end  # nothing but backticks: no line break here to confuse `join_chunks`

    def _clean(self, cut: int) -> bool:
        return not _within(self.tokens, cut) and self._clean_of_entities(cut)

    def _clean_of_entities(self, cut: int) -> bool:
        return not _within(self.entities, cut) and self._whole_character(cut)

    def _whole_character(self, cut: int) -> bool:
        """False between a character and a mark, joiner or modifier that belongs to it."""
        after = self.text[cut]
        return not (
            unicodedata.combining(after)
            or self.text[cut - 1] in _ZERO_WIDTH_JOINERS
            or after in _ZERO_WIDTH_JOINERS
            or "\ufe00" <= after <= "\ufe0f"  # variation selectors
            or "\U0001f3fb" <= after <= "\U0001f3ff"  # skin tone modifiers
        )


def _anywhere(cut: int) -> bool:
    return True


def _within(spans: list[tuple[int, int]], position: int) -> bool:
    """Whether `position` falls strictly inside one of the sorted, non-overlapping spans."""
    index = bisect.bisect_left(spans, (position, position)) - 1
    return index >= 0 and spans[index][0] < position < spans[index][1]
