"""Prometheus metrics for one bot process, on its own registry (no module-level globals).

`Metrics` is built once by the runtime and passed to whatever records into it: the answer path
(through the `AnswerObserver` methods), the Slack client's aiohttp session (a trace config that
counts calls and 429s by method), Redis (errors by operation) and the HTTP servers (`/metrics`).
Two bots in one process (the tests run two replicas) keep separate counts.

Label values are bounded: answer kinds, outcomes, error class names, model names from settings or
per-channel settings, Slack method names and method families; no user, channel or message ids.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError

from bot.core.lifecycle import AnswerOutcome
from bot.stores.budget import RedisBudget
from bot.stores.guard import RedisGuard

T = TypeVar("T")

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: the first token usually comes within 0.5–5 s; whole answers run up to minutes.
FIRST_TOKEN_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60)
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)


def outcome_of(outcome: AnswerOutcome) -> str:
    """One word for how an answer ended (a bounded label)."""
    if outcome.crashed:
        return "crashed"
    if outcome.interrupted:
        return "interrupted"
    if outcome.stopped_by is not None:
        return "stopped"
    if outcome.error is not None:
        return "failed"
    if not outcome.message_ts:
        return "not_posted"
    return "answered"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.answers = Counter(
            "relaydance_answers",
            "Answers finished, by kind and how they ended",
            ["kind", "outcome"],
            registry=r,
        )
        self.first_token = Histogram(
            "relaydance_first_token_seconds",
            "From the answer's start to the first streamed text",
            ["kind"],
            buckets=FIRST_TOKEN_BUCKETS,
            registry=r,
        )
        self.stream_duration = Histogram(
            "relaydance_answer_duration_seconds",
            "From the answer's start to its final edit",
            ["kind"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "relaydance_tokens",
            "Tokens the upstream reported, by model and direction",
            ["model", "direction"],
            registry=r,
        )
        self.upstream_errors = Counter(
            "relaydance_upstream_errors",
            "Answers that ended in an upstream or Slack error, by kind",
            ["kind"],
            registry=r,
        )
        self.in_flight = Gauge("relaydance_streams_in_flight", "Answers streaming right now", registry=r)
        self.queue_depth = Gauge(
            "relaydance_queue_depth", "Answers waiting for a free slot (0 while nothing queues)", registry=r
        )
        self.slack_calls = Counter(
            "relaydance_slack_calls",
            "Slack Web API calls, by method and HTTP status",
            ["method", "status"],
            registry=r,
        )
        self.slack_rate_limited = Counter(
            "relaydance_slack_rate_limited",
            "Slack Web API calls answered 429, by method",
            ["method"],
            registry=r,
        )
        self.redis_errors = Counter(
            "relaydance_redis_errors",
            "Redis calls that failed or timed out, by operation",
            ["operation"],
            registry=r,
        )
        self.budget_tokens = Gauge(
            "relaydance_slack_budget_tokens",
            "Slack budget: calls that may go out at once from the emptiest bucket, by method family",
            ["family"],
            registry=r,
        )
        self.budget_rate = Gauge(
            "relaydance_slack_budget_rate",
            "Slack budget: the lowest learned rate, calls per second, by method family (drops after 429s)",
            ["family"],
            registry=r,
        )
        self.budget_buckets = Gauge(
            "relaydance_slack_budget_buckets",
            "Slack budget: buckets in use (per workspace, and per channel for posts), by method family",
            ["family"],
            registry=r,
        )
        self._refreshers: list[Callable[[], Awaitable[None]]] = []
        self.events = Counter(
            "relaydance_events_refused",
            "Requests refused while draining or malformed",
            ["reason"],
            registry=r,
        )

    # -- the answer path (bot.core.answerer calls these) ----------------------------------------

    def answer_started(self) -> None:
        self.in_flight.inc()

    def answer_finished(self, kind: str, outcome: AnswerOutcome, model: str) -> None:
        self.in_flight.dec()
        self.answers.labels(kind=kind, outcome=outcome_of(outcome)).inc()
        if outcome.first_token_at is not None:
            self.first_token.labels(kind=kind).observe(outcome.first_token_at - outcome.started_at)
        self.stream_duration.labels(kind=kind).observe(time.monotonic() - outcome.started_at)
        if outcome.error is not None:
            self.upstream_errors.labels(kind=type(outcome.error).__name__).inc()
        if outcome.usage is not None and model:
            self.tokens.labels(model=model, direction="in").inc(outcome.usage.prompt_tokens or 0)
            self.tokens.labels(model=model, direction="out").inc(outcome.usage.completion_tokens or 0)

    def redis_error(self, operation: str) -> None:
        self.redis_errors.labels(operation=operation).inc()

    def count_redis_errors(self, guard: RedisGuard) -> None:
        """Count each Redis call the guard lets fail (an error, or its time limit running out).

        The guard turns failures into fallbacks, so they are seen from inside the call it runs;
        wrapping the guard's `run` keeps the stores unaware of metrics."""
        run = guard.run
        limit = guard.bound

        async def counted_run(op: Callable[[], Awaitable[T]], fallback: T, *, what: str = "redis") -> T:
            async def counted() -> T:
                began = time.monotonic()
                try:
                    return await op()
                except (RedisError, OSError):
                    self.redis_error(what)
                    raise
                except asyncio.CancelledError:
                    if time.monotonic() - began >= limit * 0.99:
                        self.redis_error(what)  # the guard's timeout, not a shutdown
                    raise

            return await run(counted, fallback, what=what)

        guard.run = counted_run  # type: ignore[method-assign]

    # -- Slack's Web API, seen from the aiohttp session ------------------------------------------

    def slack_trace(self) -> aiohttp.TraceConfig:
        """Counts every Web API call by method (`…/api/chat.update` → `chat.update`) and status."""
        trace = aiohttp.TraceConfig()

        async def on_end(_: aiohttp.ClientSession, __: SimpleNamespace, params: Any) -> None:
            method = slack_method(str(params.url.path))
            if method is None:
                return
            status = int(params.response.status)
            self.slack_calls.labels(method=method, status=str(status)).inc()
            if status == 429:
                self.slack_rate_limited.labels(method=method).inc()

        trace.on_request_end.append(on_end)
        return trace

    # -- read when scraped ----------------------------------------------------------------------

    def read_budget(self, budget: RedisBudget) -> None:
        """Report the Slack budget's levels (kept in Redis, shared by replicas) at each scrape."""

        async def refresh() -> None:
            levels = await budget.levels()
            for family, level in (levels or {}).items():  # Redis away: the last values stay
                self.budget_tokens.labels(family=family).set(level.tokens)
                self.budget_rate.labels(family=family).set(level.rate)
                self.budget_buckets.labels(family=family).set(level.buckets)

        self._refreshers.append(refresh)

    async def refresh(self) -> None:
        """Bring the values read at scrape time up to date (before `exposition`)."""
        for refresh in self._refreshers:
            await refresh()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def slack_method(path: str) -> str | None:
    """The Web API method of a request path, or None for anything else (websockets, response_url)."""
    head, _, method = path.rpartition("/")
    if not head.endswith("/api") or not method or "." not in method:
        return None
    return method[:60]
