"""The printed table and the JSON file: one column per system, one row per figure, targets marked."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.measure import Figures


@dataclass(frozen=True)
class Target:
    """A goal for the bot, set by the issue for later work to reach (lower is better)."""

    limit: float
    text: str

    def met(self, value: float) -> bool:
        return not math.isnan(value) and value <= self.limit


@dataclass(frozen=True)
class Row:
    label: str
    value: Callable[[Figures], float]
    decimals: int
    target: Target | None = None
    key: str = ""  # name in the JSON file's "targets"


ROWS = (
    Row("ack p50 (ms)", lambda f: f.ack_ms.p50, 1),
    Row("ack p99 (ms)", lambda f: f.ack_ms.p99, 1, Target(20, "≤ 20"), "ack_p99_ms"),
    Row("event → placeholder p50 (ms)", lambda f: f.placeholder_ms.p50, 1),
    Row(
        "event → placeholder p99 (ms)",
        lambda f: f.placeholder_ms.p99,
        1,
        Target(100, "≤ 100"),
        "placeholder_p99_ms",
    ),
    Row(
        "first token → visible p50 (ms)",
        lambda f: f.first_visible_ms.p50,
        1,
        Target(100, "≤ 100"),
        "first_visible_p50_ms",
    ),
    Row("first token → visible p99 (ms)", lambda f: f.first_visible_ms.p99, 1),
    Row("last token → final edit p50 (ms)", lambda f: f.final_lag_ms.p50, 1),
    Row("last token → final edit p99 (ms)", lambda f: f.final_lag_ms.p99, 1),
    Row("chat.update calls per answer, mean", lambda f: f.edits_mean, 1),
    Row("chat.update calls per answer, max", lambda f: f.edits_max, 0),
    Row("429s from Slack", lambda f: f.rate_limited, 0),
    Row("completion tokens streamed", lambda f: f.tokens, 0),
    Row("CPU total (ms)", lambda f: f.cpu_ms, 0),
    Row(
        "CPU per 1,000 tokens (ms)",
        lambda f: f.cpu_ms_per_1k_tokens,
        1,
        Target(20, "≤ 20"),
        "cpu_ms_per_1k_tokens",
    ),
    Row("peak RSS (MB)", lambda f: f.peak_rss_mb, 1),
    Row("wall time, whole batch (s)", lambda f: f.wall_s, 2),
    Row("harness CPU, fakes + load (s)", lambda f: f.harness_cpu_s, 2),
)


def table(results: Mapping[str, Figures], parameters: Mapping[str, Any]) -> str:
    """The run's parameters, then the figures; ✓/✗ judges the first column (the bot) only."""
    names = list(results)
    lines = ["RelayDance Slack bot benchmark", *(f"  {k}: {v}" for k, v in parameters.items()), ""]
    header = ["metric", *names, "target", ""]
    body = []
    for row in ROWS:
        values = [row.value(results[name]) for name in names]
        mark = ""
        if row.target is not None and names:
            mark = "✓" if row.target.met(values[0]) else "✗"
        target = row.target.text if row.target else ""
        body.append([row.label, *(_number(v, row.decimals) for v in values), target, mark])
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return "  ".join(
            [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
        )

    lines += [line(header), line(["-" * w for w in widths]), *(line(r) for r in body)]
    return "\n".join(line.rstrip() for line in lines)


def targets_json(bot: Figures) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in ROWS:
        if row.target is not None:
            value = row.value(bot)
            out[row.key] = {
                "limit": row.target.limit,
                "value": None if math.isnan(value) else value,
                "met": row.target.met(value),
            }
    return out


def _number(value: float, decimals: int) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:,.{decimals}f}"
