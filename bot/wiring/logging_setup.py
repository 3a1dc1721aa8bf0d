"""Logging that cannot leak a secret, as text or as one JSON object per line (LOG_FORMAT=json).

Every record is scrubbed of the configured secret values before it is formatted, and carries the
team, channel, thread and answer ids of the work it belongs to (`bot.log_context`), so the lines
of one answer can be found together. What people wrote is logged only at DEBUG.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable

from bot import log_context


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 6]

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "********")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        scrubbed = self._scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text, record.exc_info = (
                self._scrub(logging.Formatter().formatException(record.exc_info)),
                None,
            )
        elif record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True


class WithContext(logging.Filter):
    """Copies the current conversation and answer ids onto the record (`record.ctx`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.ctx = log_context.current()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = getattr(record, "ctx", None) or {}
        if not ids:
            return text
        shown = " ".join(f"{key}={value}" for key, value in ids.items())
        head, newline, rest = text.partition("\n")  # ids on the first line, before a traceback
        return f"{head} [{shown}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context ids, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "ctx", None) or {})
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


SLACK_SDK_WEB_LOGGER = "slack_sdk.web.async_base_client"  # AsyncWebClient's default logger


def configure(level: str, secrets: Iterable[str], *, json_format: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(WithContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO; keep ours readable.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # slack-sdk's web client builds its debug lines (every call's parameters, every response's
    # headers and body) whenever its logger's own level is unset, whatever the root's level: ~17
    # microseconds a chat.update of 1 KB, thrown away above DEBUG. Its own level stops that.
    logging.getLogger(SLACK_SDK_WEB_LOGGER).setLevel(level)
