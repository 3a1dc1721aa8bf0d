"""Text from Slack made safe to store and to send: no lone surrogates, no NUL characters.

JSON lets a payload carry `"\\ud800"`, which Python decodes to a lone surrogate that no UTF-8
encoder (Redis's, httpx's) accepts; NUL bytes break some log and terminal consumers.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\ud800-\udfff\x00]")


def clean_text(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD and NULs removed (a no-op for normal text)."""
    if text.isascii():
        return text.replace("\x00", "") if "\x00" in text else text
    return _UNSAFE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)
