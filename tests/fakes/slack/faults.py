"""Faults the fake Slack injects before a method runs: queued failures and sliding-window rate limits."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fault:
    """How to answer one call instead of running its method."""

    error: str
    status: int
    retry_after: int | None


@dataclass
class _Budget:
    """A sliding-window allowance: at most `calls` granted calls in any `per_seconds`."""

    calls: int
    per_seconds: float
    retry_after: int | None
    granted: deque[float] = field(default_factory=deque)

    def take(self, now: float) -> int | None:
        """Count a call and return None, or return the Retry-After seconds if the budget is spent."""
        while self.granted and now - self.granted[0] >= self.per_seconds:
            self.granted.popleft()
        if len(self.granted) < self.calls:
            self.granted.append(now)
            return None
        if self.retry_after is not None:
            return self.retry_after
        return max(1, math.ceil(self.granted[0] + self.per_seconds - now))


class Faults:
    """The failures queued with `fail_next()` and the budgets set with `rate_limit()`, per method."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[Fault]] = {}
        self._budgets: dict[str, _Budget] = {}

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail.

        Defaults to a rate limit (429, `Retry-After: 1`, `ratelimited`). Another `error` alone is
        answered like Slack answers errors, HTTP 200 with `ok: false`; `status=500` gives a
        server error with `internal_error`.
        """
        if status is None:
            status = 429 if error in (None, "ratelimited") else 200
        if error is None:
            error = "ratelimited" if status in (200, 429) else "internal_error"
        if status == 429 and retry_after is None:
            retry_after = 1
        queue = self._queued.setdefault(method, deque())
        queue.extend(Fault(error, status, retry_after) for _ in range(times))

    def rate_limit(self, method: str, calls: int, per_seconds: float, retry_after: int | None = None) -> None:
        """Answer 429 once `method` has been granted `calls` calls within the last `per_seconds`.

        Retry-After defaults to the whole seconds until the window frees a slot.
        """
        self._budgets[method] = _Budget(calls, per_seconds, retry_after)

    def take(self, method: str, now: float) -> Fault | None:
        """The fault this call of `method` meets (a queued one first, then the rate limit), or None."""
        queued = self._queued.get(method)
        if queued:
            return queued.popleft()
        budget = self._budgets.get(method)
        if budget is not None:
            wait = budget.take(now)
            if wait is not None:
                return Fault("ratelimited", 429, wait)
        return None
