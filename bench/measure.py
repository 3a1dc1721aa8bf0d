"""Turn one run's recordings (fake Slack calls, fake RelayDance requests, acks) into figures.

Pure functions over `RunRecord`: every timestamp was taken with `time.monotonic()` in the harness
process, so differences between the fakes' records and the load generator's are meaningful.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.run import RunRecord
from tests.fakes.relaydance import Request
from tests.fakes.slack import Call

_TAG = re.compile(r"bench-q-\d{4}")


@dataclass(frozen=True)
class Spread:
    """p50 and p99 of a sample, in milliseconds (NaN when the sample is empty)."""

    p50: float
    p99: float
    count: int

    @classmethod
    def of_seconds(cls, values: Sequence[float]) -> Spread:
        ms = [v * 1000 for v in values]
        return cls(p50=percentile(ms, 50), p99=percentile(ms, 99), count=len(ms))


@dataclass(frozen=True)
class Figures:
    ack_ms: Spread
    placeholder_ms: Spread  # event sent → chat.postMessage in its thread received by Slack
    first_visible_ms: Spread  # first content piece written upstream → first real edit received
    final_lag_ms: Spread  # last content piece written upstream → last call completing the answer
    edits_mean: float  # chat.update calls per answer (rate-limited attempts included)
    edits_max: int
    rate_limited: int  # 429s the fake Slack answered during the batch
    tokens: int  # completion pieces streamed during the batch
    cpu_ms: float
    cpu_ms_per_1k_tokens: float
    peak_rss_mb: float
    wall_s: float  # first event sent → last Slack call of any answer received
    harness_cpu_s: float  # the fakes and load generator, sharing the machine with the system

    def as_json(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in asdict(self).items()}


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class _Answer:
    """What the fake Slack saw of one answer: the calls that posted or edited its messages."""

    placeholder: Call  # the first chat.postMessage in the mention's thread
    updates: list[Call] = field(default_factory=list)  # every chat.update of its messages
    last_ok: Call | None = None  # the call that left the thread as it finally reads


def figures(record: RunRecord) -> Figures:
    by_thread = {m.ts: m for m in record.mentions}
    tag_to_thread = {m.tag: m.ts for m in record.mentions}
    answers: dict[str, _Answer] = {}
    owner: dict[str, str] = {}  # message ts → thread ts
    for call in record.slack_calls:
        if call.method == "chat.postMessage" and call.params.get("thread_ts") in by_thread and call.ok:
            thread, ts = str(call.params["thread_ts"]), str(call.response["ts"])
            answer = answers.setdefault(thread, _Answer(placeholder=call))
            answer.last_ok = call
            owner[ts] = thread
        elif call.method == "chat.update" and call.params.get("ts") in owner:
            answer = answers[owner[str(call.params["ts"])]]
            answer.updates.append(call)
            if call.ok:
                answer.last_ok = call

    requests: dict[str, Request] = {}
    for request in record.relay_requests:
        tag = _tag_of(request)
        if tag in tag_to_thread:
            requests[tag_to_thread[tag]] = request

    placeholder_s, first_visible_s, final_lag_s, edits = [], [], [], []
    for thread, mention in by_thread.items():
        shown = answers.get(thread)
        if shown is None:
            continue
        placeholder_s.append(shown.placeholder.received_at - mention.sent_at)
        edits.append(len(shown.updates))
        asked = requests.get(thread)
        if asked is None or asked.first_piece_at is None:
            continue
        first_edit = _first_visible(shown)
        if first_edit is not None:
            first_visible_s.append(first_edit.received_at - asked.first_piece_at)
        if shown.last_ok is not None and asked.last_piece_at is not None:
            final_lag_s.append(shown.last_ok.received_at - asked.last_piece_at)

    tokens = sum(len(r.script.pieces) for r in requests.values() if r.finished and r.script is not None)
    touched = [a.last_ok.received_at for a in answers.values() if a.last_ok is not None]
    return Figures(
        ack_ms=Spread.of_seconds([m.acked_at - m.sent_at for m in record.mentions]),
        placeholder_ms=Spread.of_seconds(placeholder_s),
        first_visible_ms=Spread.of_seconds(first_visible_s),
        final_lag_ms=Spread.of_seconds(final_lag_s),
        edits_mean=sum(edits) / len(edits) if edits else math.nan,
        edits_max=max(edits, default=0),
        rate_limited=sum(1 for c in record.slack_calls if c.status == 429),
        tokens=tokens,
        cpu_ms=record.cpu_seconds * 1000,
        cpu_ms_per_1k_tokens=record.cpu_seconds * 1000 / tokens * 1000 if tokens else math.nan,
        peak_rss_mb=record.peak_rss_mb,
        wall_s=(max(touched) - record.started_at) if touched else math.nan,
        harness_cpu_s=record.harness_cpu_seconds,
    )


def _first_visible(shown: _Answer) -> Call | None:
    """The first edit Slack accepted that replaced the placeholder's text with the answer's."""
    placeholder_ts, placeholder_text = shown.placeholder.response["ts"], shown.placeholder.params.get("text")
    for call in shown.updates:
        if (
            call.ok
            and call.params.get("ts") == placeholder_ts
            and call.params.get("text") != placeholder_text
        ):
            return call
    return None


def _tag_of(request: Request) -> str | None:
    """The question's unique tag, from the last user message of a chat request."""
    body = request.json
    if not isinstance(body, dict):
        return None
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    found = _TAG.search(str(users[-1].get("content", ""))) if users else None
    return found.group(0) if found else None


def _finite(value: Any) -> Any:
    """JSON has no NaN: write null instead (nested spreads included)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value
