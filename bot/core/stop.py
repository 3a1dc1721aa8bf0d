"""Which answers are streaming, and who may stop them.

Kept in this process: a Stop reaches the replica that streams the answer when Slack delivers the
button press there (see the README on replicas).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum


class StopOutcome(Enum):
    STOPPED = "stopped"
    NOT_ALLOWED = "not_allowed"
    NOT_RUNNING = "not_running"


@dataclass(slots=True)
class _Run:
    task: asyncio.Task[object]
    asker: str | None
    stopped_by: str | None = None


class StopRegistry:
    def __init__(self, *, admin_users: Collection[str]) -> None:
        self._admin_users = admin_users
        self._running: dict[str, _Run] = {}

    def register(self, answer_id: str, task: asyncio.Task[object], asker: str | None) -> None:
        self._running[answer_id] = _Run(task, asker)

    def unregister(self, answer_id: str) -> None:
        """From here on the answer cannot be stopped (its final edit must not be cancelled)."""
        self._running.pop(answer_id, None)

    def stopped_by(self, answer_id: str) -> str | None:
        run = self._running.get(answer_id)
        return run.stopped_by if run is not None else None

    def stop(self, answer_id: str, user: str, *, is_admin: bool) -> StopOutcome:
        run = self._running.get(answer_id)
        if run is None or run.task.done():
            return StopOutcome.NOT_RUNNING
        if not (is_admin or user == run.asker or user in self._admin_users):
            return StopOutcome.NOT_ALLOWED
        if run.stopped_by is None:
            run.stopped_by = user
            run.task.cancel()
        return StopOutcome.STOPPED
