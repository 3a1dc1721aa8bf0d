"""Which Slack conversation and answer the code running now works for, for every log line.

Set where work starts (an event enters the app, an answer begins); asyncio copies the context into
every task started from there, so the renderer's task, the upstream stream and their log lines
carry the same ids without passing them around. Only ids, never text.
"""

from __future__ import annotations

from contextvars import ContextVar

FIELDS = ("team", "channel", "thread", "answer")

_current: ContextVar[dict[str, str] | None] = ContextVar("bot_log_context", default=None)


def bind(**ids: str | None) -> None:
    """Add ids (team=, channel=, thread=, answer=) to the current context; None values are skipped."""
    merged = dict(_current.get() or {})
    merged.update({key: str(value) for key, value in ids.items() if key in FIELDS and value})
    _current.set(merged)


def current() -> dict[str, str]:
    return dict(_current.get() or {})
