"""Garbage collection once start-up is done: in a process of its own (it changes the whole
interpreter), as `python -m bot` does it."""

from __future__ import annotations

import json
import subprocess
import sys

from bot.wiring import heap

PROBE = """
import gc, json
from bot.wiring import heap
made_at_start_up = [[i] for i in range(1000)]  # container objects, as modules and clients are
before = gc.get_freeze_count()
heap.settle()
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}))
"""


def test_settle_freezes_what_start_up_made_and_collects_less_often() -> None:
    out = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True
    ).stdout
    seen = json.loads(out)
    assert seen["before"] == 0 and seen["frozen"] >= 1000
    assert tuple(seen["threshold"]) == (heap.YOUNG, heap.MIDDLE, heap.OLD)
    assert heap.YOUNG > 700  # CPython's default, which the benchmark measured against
