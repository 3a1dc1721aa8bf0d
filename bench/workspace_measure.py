"""Figures of one workspace run per policy, from the fakes' records (all `time.monotonic()` here).

Chunk-visibility lag: for every piece of every answer, the time from when the fake RelayDance
wrote it to the first accepted Slack call after which the answer's messages show it. A piece
counts as shown once the thread shows at least as many letters and digits as the answer up to
and including that piece (Markdown → mrkdwn changes marks, not letters; the placeholder's words
are not counted). Pieces' write times are interpolated between the request's first and last
piece (the fake streams at a steady pace).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.measure import percentile
from tests.fakes.relaydance import Request
from tests.fakes.slack import Call

_TAG = re.compile(r"bench-q-\d{4}")
PLACEHOLDER_MARK = "Thinking"


@dataclass(frozen=True)
class Policy:
    name: str
    module: str
    final_text: Callable[[str], str]
    env: dict[str, str]
    old: bool = False  # run from the commit before the budget
    native: bool = False  # answers may end as native streams (Markdown as it came) or edited (mrkdwn)

    def finished(self, answer: str) -> frozenset[str]:
        """What a thread may show once `answer` is done; computed once per batch, not per poll (a
        thousand conversions every 50 ms took a whole core from the fakes)."""
        return frozenset({self.final_text(answer), answer} if self.native else {self.final_text(answer)})


@dataclass
class WorkspaceFigures:
    policy: str
    rate_limited: int
    chunk_lag_p50: float
    chunk_lag_p95: float
    complete_p50: float  # last token → complete
    complete_p95: float
    calls: dict[str, int] = field(default_factory=dict)
    cpu_ms: float = 0.0
    tokens: int = 0
    answers: int = 0
    wall_s: float = 0.0
    placeholder_p50: float = math.nan  # event sent → its placeholder posted
    placeholder_p99: float = math.nan
    placeholders: int = 0  # answers whose placeholder was posted
    completed: int = 0  # answers shown whole
    harness_cpu_ms: float = 0.0  # the fakes and the load generator (they share the machine's cores)
    peak_rss_mb: float = 0.0  # every replica's peak, summed
    rss_before_mb: float = 0.0  # every replica's RSS before the batch, summed

    @property
    def cpu_per_1k_tokens(self) -> float:
        return self.cpu_ms / self.tokens * 1000 if self.tokens else math.nan

    @property
    def cpu_per_answer(self) -> float:
        return self.cpu_ms / self.answers if self.answers else math.nan

    @property
    def rss_per_stream_kb(self) -> float:
        """Peak RSS grown during the batch, per answer streaming at once."""
        return (
            max(0.0, self.peak_rss_mb - self.rss_before_mb) * 1024 / self.answers
            if self.answers
            else math.nan
        )

    def as_json(self) -> dict[str, Any]:
        values = asdict(self) | {
            "cpu_per_1k_tokens": self.cpu_per_1k_tokens,
            "cpu_per_answer": self.cpu_per_answer,
            "rss_per_stream_kb": self.rss_per_stream_kb,
        }
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


def _alnum(text: str) -> int:
    return sum(1 for c in text if c.isalnum())


def measure(
    policy: Policy,
    *,
    calls: list[Call],
    requests: list[Request],
    threads: dict[str, tuple[str, str]],  # tag -> (channel, thread ts)
    pieces: Sequence[str],
    cpu_seconds: float,
    started_at: float,
    sent_at: dict[str, float] | None = None,  # thread ts -> when its event was sent
    harness_cpu_seconds: float = 0.0,
    peak_rss_mb: float = 0.0,
    rss_before_mb: float = 0.0,
) -> WorkspaceFigures:
    by_thread = {ts: tag for tag, (_, ts) in threads.items()}
    owner: dict[str, str] = {}  # message ts -> thread ts
    texts: dict[str, dict[str, str]] = {ts: {} for ts in by_thread}  # thread -> message ts -> text
    shown_at: dict[str, list[tuple[float, int]]] = {ts: [] for ts in by_thread}  # (when, letters shown)
    counts: dict[str, int] = {}
    placeholders: dict[str, float] = {}
    for call in calls:
        counts[call.method] = counts.get(call.method, 0) + 1
        if not call.ok:
            continue
        if call.method == "chat.postMessage" and call.params.get("thread_ts") in by_thread:
            thread, ts = str(call.params["thread_ts"]), str(call.response["ts"])
            owner[ts] = thread
            if sent_at and thread in sent_at and thread not in placeholders:
                placeholders[thread] = call.received_at - sent_at[thread]
        elif call.method == "chat.update" and call.params.get("ts") in owner:
            thread, ts = owner[str(call.params["ts"])], str(call.params["ts"])
        elif call.method == "chat.startStream" and call.params.get("thread_ts") in by_thread:
            thread, ts = str(call.params["thread_ts"]), str(call.response["ts"])
            owner[ts] = thread
        elif call.method in ("chat.appendStream", "chat.stopStream") and call.params.get("ts") in owner:
            thread, ts = owner[str(call.params["ts"])], str(call.params["ts"])
        else:
            continue
        text = str(call.params.get("text") or call.params.get("markdown_text") or "")
        if call.method in ("chat.appendStream", "chat.stopStream"):
            text = texts[thread].get(ts, "") + text  # a stream grows by what each call appends
        texts[thread][ts] = "" if PLACEHOLDER_MARK in text and len(text) < 40 else text
        letters = sum(_alnum(t) for t in texts[thread].values())
        shown_at[thread].append((call.received_at, letters))

    prefix_letters = []
    total = 0
    for piece in pieces:
        total += _alnum(piece)
        prefix_letters.append(total)
    lags: list[float] = []
    completes: list[float] = []
    tokens = 0
    for request in requests:
        found = _TAG.search(str(request.json))
        if found is None or found.group(0) not in threads or request.first_piece_at is None:
            continue
        thread = threads[found.group(0)][1]
        first, last = request.first_piece_at, request.last_piece_at or request.first_piece_at
        tokens += len(pieces)
        steps = shown_at[thread]
        step = 0
        for k, need in enumerate(prefix_letters):
            written = first + (last - first) * k / max(1, len(pieces) - 1)
            while step < len(steps) and steps[step][1] < need:
                step += 1
            if step == len(steps):
                break
            lags.append(max(0.0, steps[step][0] - written))
        if steps and steps[-1][1] >= total:
            done = next(when for when, letters in steps if letters >= total)
            completes.append(max(0.0, done - last))
    ends = [s[-1][0] for s in shown_at.values() if s]
    return WorkspaceFigures(
        policy=policy.name,
        rate_limited=sum(1 for c in calls if c.status == 429),
        chunk_lag_p50=percentile(lags, 50),
        chunk_lag_p95=percentile(lags, 95),
        complete_p50=percentile(completes, 50),
        complete_p95=percentile(completes, 95),
        calls=counts,
        cpu_ms=cpu_seconds * 1000,
        tokens=tokens,
        answers=len(threads),
        wall_s=(max(ends) - started_at) if ends else math.nan,
        placeholder_p50=percentile(list(placeholders.values()), 50),
        placeholder_p99=percentile(list(placeholders.values()), 99),
        placeholders=len(placeholders),
        completed=len(completes),
        harness_cpu_ms=harness_cpu_seconds * 1000,
        peak_rss_mb=peak_rss_mb,
        rss_before_mb=rss_before_mb,
    )


ROWS: list[tuple[str, Callable[[WorkspaceFigures], float], str]] = [
    ("answers complete", lambda f: f.completed, "{:.0f}"),
    ("429s from Slack", lambda f: f.rate_limited, "{:.0f}"),
    ("event → placeholder p50 (s)", lambda f: f.placeholder_p50, "{:.2f}"),
    ("event → placeholder p99 (s)", lambda f: f.placeholder_p99, "{:.2f}"),
    ("chunk lag p50 (s)", lambda f: f.chunk_lag_p50, "{:.2f}"),
    ("chunk lag p95 (s)", lambda f: f.chunk_lag_p95, "{:.2f}"),
    ("last token → complete p50 (s)", lambda f: f.complete_p50, "{:.2f}"),
    ("last token → complete p95 (s)", lambda f: f.complete_p95, "{:.2f}"),
    ("chat.update calls", lambda f: f.calls.get("chat.update", 0), "{:.0f}"),
    ("chat.postMessage calls", lambda f: f.calls.get("chat.postMessage", 0), "{:.0f}"),
    ("chat.startStream calls", lambda f: f.calls.get("chat.startStream", 0), "{:.0f}"),
    ("chat.appendStream calls", lambda f: f.calls.get("chat.appendStream", 0), "{:.0f}"),
    ("chat.stopStream calls", lambda f: f.calls.get("chat.stopStream", 0), "{:.0f}"),
    ("CPU per 1,000 tokens (ms)", lambda f: f.cpu_per_1k_tokens, "{:.0f}"),
    ("CPU per answer (ms)", lambda f: f.cpu_per_answer, "{:.1f}"),
    ("harness CPU (s)", lambda f: f.harness_cpu_ms / 1000, "{:.1f}"),
    ("peak RSS, all replicas (MB)", lambda f: f.peak_rss_mb, "{:.0f}"),
    ("RSS per stream (kB)", lambda f: f.rss_per_stream_kb, "{:.0f}"),
    ("wall time (s)", lambda f: f.wall_s, "{:.1f}"),
]


def table(results: list[WorkspaceFigures]) -> str:
    width = max(len(r[0]) for r in ROWS) + 2
    lines = ["".ljust(width) + "".join(f.policy.rjust(13) for f in results)]
    for label, value, fmt in ROWS:
        lines.append(label.ljust(width) + "".join(fmt.format(value(f)).rjust(13) for f in results))
    return "\n".join(lines)
