from __future__ import annotations

import json

import pytest

from bot.text.clean import clean_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain", "plain"),
        ("caf\u00e9 \u65e5\u672c \U0001f600", "caf\u00e9 \u65e5\u672c \U0001f600"),  # real pairs stay
        (json.loads('"a\\ud800b"'), "a\ufffdb"),
        (json.loads('"\\udfff"'), "\ufffd"),
        ("nul\x00here", "nulhere"),
        (json.loads('"\\u00e9\\u0000\\ud83d"'), "\u00e9\ufffd"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
    clean_text(raw).encode("utf-8")  # always encodable
