"""The fake's native streaming methods: chat.startStream, chat.appendStream, chat.stopStream.

As Slack's reference describes them (docs.slack.dev/reference/methods/chat.startStream …):
- startStream takes `channel`, `thread_ts`, optional `markdown_text` (standard Markdown, at most
  12,000 characters per call) or `chunks`; outside a DM it needs `recipient_team_id` and
  `recipient_user_id` (`missing_recipient_team_id` / `missing_recipient_user_id`). It answers
  `{channel, ts}` of the new message, which shows the text streamed so far;
- appendStream (`channel`, `ts`, `markdown_text` or `chunks`) appends to that text;
- stopStream (`channel`, `ts`, optional `markdown_text`, `chunks`, `blocks`, `metadata`) ends the
  stream; its blocks show under the text;
- a message that is not streaming (never was, stopped, or closed by Slack) answers
  `message_not_in_streaming_state`; `chat.update` on a message still streaming answers
  `streaming_state_conflict`.
Slack closes a stream a few minutes after it started (about 300 s observed, appends do not extend
it); `max_age` sets that here, and `idle` closes one that has had no call for that long (Slack
does not document an idle limit: None by default). `close()` ends one at once, for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.fakes.slack.params import Params, SlackError, json_value, optional, parse_blocks, required

MARKDOWN_LIMIT = 12_000
CHUNK_TYPES = ("markdown_text", "task_update", "plan_update", "blocks")
TASK_STATUSES = ("pending", "in_progress", "complete", "error")


@dataclass
class Stream:
    started_at: float
    last_call_at: float


class Streams:
    """Which messages are streaming, and the rules for their calls."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.max_age: float = 300.0
        self.idle: float | None = None
        self._open: dict[tuple[str, str], Stream] = {}

    def open(self, channel: str, ts: str) -> None:
        now = self.clock()
        self._open[(channel, ts)] = Stream(now, now)

    def close(self, channel: str, ts: str) -> None:
        """End a stream as Slack does when it expires: later calls find it not streaming."""
        self._open.pop((channel, ts), None)

    def is_streaming(self, channel: str, ts: str) -> bool:
        stream = self._open.get((channel, ts))
        if stream is None:
            return False
        now = self.clock()
        expired = now - stream.started_at >= self.max_age or (
            self.idle is not None and now - stream.last_call_at >= self.idle
        )
        if expired:
            self.close(channel, ts)
            return False
        return True

    def touch(self, channel: str, ts: str) -> None:
        """A call reached the stream: it is not idle."""
        if not self.is_streaming(channel, ts):
            raise SlackError("message_not_in_streaming_state")
        self._open[(channel, ts)].last_call_at = self.clock()


def stream_content(params: Params, *, needed: bool) -> tuple[str, list[Params]]:
    """The Markdown a call appends (`markdown_text` plus its `markdown_text` chunks) and the other
    chunks (task and plan updates, blocks), validated as Slack does."""
    text = "" if params.get("markdown_text") is None else str(params["markdown_text"])
    others: list[Params] = []
    raw = params.get("chunks")
    if raw is not None:
        chunks = json_value(raw, "invalid_chunks")
        if not isinstance(chunks, list):
            raise SlackError("invalid_chunks")
        for chunk in chunks:
            if not isinstance(chunk, dict) or chunk.get("type") not in CHUNK_TYPES:
                raise SlackError("invalid_chunks")
            kind = chunk["type"]
            if kind == "markdown_text":
                if not isinstance(chunk.get("text"), str):
                    raise SlackError("invalid_chunks")
                text += chunk["text"]
            elif kind == "task_update":
                if not chunk.get("id") or not chunk.get("title") or chunk.get("status") not in TASK_STATUSES:
                    raise SlackError("invalid_chunks")
                others.append(dict(chunk))
            elif kind == "plan_update":
                if not chunk.get("title"):
                    raise SlackError("invalid_chunks")
                others.append(dict(chunk))
            else:
                others.append({"type": "blocks", "blocks": parse_blocks(chunk.get("blocks"))})
    if len(text) > MARKDOWN_LIMIT:
        raise SlackError("msg_too_long")
    if needed and not text and not others:
        raise SlackError("no_text")
    return text, others


def stream_target(params: Params) -> tuple[str, str]:
    return required(params, "channel", "channel_not_found"), required(params, "ts", "message_not_found")


def recipient_check(params: Params, *, is_dm: bool) -> None:
    """Outside a DM a stream needs to know whom it is for."""
    if is_dm:
        return
    if optional(params, "recipient_team_id") is None:
        raise SlackError("missing_recipient_team_id")
    if optional(params, "recipient_user_id") is None:
        raise SlackError("missing_recipient_user_id")
