"""An incremental server-sent events decoder (WHATWG HTML, "Parsing an event stream").

Pure and I/O free: `SSEDecoder.feed()` takes bytes exactly as the network hands them over (split
anywhere, even inside a UTF-8 character or between the CR and LF of a CRLF) and returns the events
those bytes completed. It runs once per streamed token, so the common case - a chunk of whole
`data:` lines - costs one decode, one split and a dict-free field match per line.

One deliberate difference from the spec, in `flush()`: see its docstring. And one limit the spec
does not have: a line or an event larger than `MAX_EVENT_SIZE` raises `UpstreamStreamError`, so
an upstream that never sends a line end cannot make the bot buffer without bound.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Final

from bot.errors import UpstreamStreamError

__all__ = ["MAX_EVENT_SIZE", "SSEDecoder", "ServerSentEvent"]

_BOM = "\ufeff"
MAX_EVENT_SIZE: Final = 1 << 20
"""Characters one line, or one event's data, may hold (1 MiB of the ASCII JSON servers send); a
streamed chunk is a few hundred bytes, so only a broken or hostile upstream comes near it."""


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event. `id` is the last event ID in force (None if the stream never set one);
    `retry` is the reconnection time given inside this event's block, if any."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed it byte chunks in order; it returns each event as soon as its blank line arrives."""

    __slots__ = (
        "_utf8",
        "_started",
        "_after_cr",
        "_partial",
        "_partial_size",
        "_data",
        "_data_size",
        "_event",
        "_last_id",
        "_retry",
    )

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # "replace": the spec decodes with UTF-8 decode, which turns invalid bytes into U+FFFD.
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._started = False  # a leading BOM is only stripped from the very first characters
        self._after_cr = False  # the previous chunk ended with CR; a leading LF belongs to it
        self._partial: list[str] = []  # pieces of a line whose end has not arrived yet
        self._partial_size = 0
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next bytes of the stream; return the events they completed (often none)."""
        return self._feed_text(self._utf8.decode(chunk))

    def flush(self) -> list[ServerSentEvent]:
        """The stream ended: finish the last line and return the event still being collected.

        The spec discards an event whose closing blank line never came. We return it instead:
        servers that end with `data: [DONE]\\n` (no blank line) are common, and dropping that event
        would make a complete answer look cut off. A caller that needs the strict behaviour can
        ignore what `flush()` returns. The decoder is reset afterwards, ready for a new stream.
        """
        events = self._feed_text(self._utf8.decode(b"", final=True))
        if self._partial:
            line = "".join(self._partial)
            self._partial = []
            self._process_line(line, events)
        if self._data:
            self._process_line("", events)
        self._reset()
        return events

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        if not text:
            return events
        if not self._started:
            self._started = True
            if text[0] == _BOM:
                text = text[1:]
                if not text:
                    return events
        if self._after_cr:
            self._after_cr = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return events
        if "\r" in text:
            # A CR ends a line at once (no waiting to see whether LF follows: that would delay an
            # event); remember it so an LF opening the next chunk is not read as an empty line.
            self._after_cr = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            self._keep_partial(text)
            return events
        lines = text.split("\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial = []
            self._partial_size = 0
        rest = lines.pop()
        for line in lines:  # each is at most a partial line (checked) plus one network read
            self._process_line(line, events)
        if rest:
            self._keep_partial(rest)
        return events

    def _keep_partial(self, text: str) -> None:
        self._partial_size += len(text)
        if self._partial_size > MAX_EVENT_SIZE:
            raise _too_large("line")
        self._partial.append(text)

    def _process_line(self, line: str, events: list[ServerSentEvent]) -> None:
        if not line:
            if self._data:
                events.append(
                    ServerSentEvent(
                        self._event or "message", "\n".join(self._data), self._last_id, self._retry
                    )
                )
                self._data = []
                self._data_size = 0
            self._event = ""
            self._retry = None
            return
        if line[0] == ":":  # a comment, e.g. a keep-alive `: ping`
            return
        name, _, value = line.partition(":")
        if value and value[0] == " ":
            value = value[1:]
        if name == "data":
            self._data_size += len(value) + 1
            if self._data_size > MAX_EVENT_SIZE:
                raise _too_large("event")
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self._retry = int(value)
        # any other field name is ignored, as the spec says


def _too_large(what: str) -> UpstreamStreamError:
    return UpstreamStreamError(f"RelayDance sent a stream {what} larger than 1 MiB; stopped reading")
