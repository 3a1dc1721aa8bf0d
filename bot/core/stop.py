"""Which answers are streaming, and who may stop them, wherever Slack delivers the Stop press.

An answer streaming here is registered with its task here and, through `StopSignals`, in Redis
with its asker, so a press that reaches another replica is checked there and forwarded; while
answers stream here this process listens for those requests and cancels the answer's task. A
press that reaches the replica streaming the answer is handled without Redis, so Stop keeps
working there while Redis is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

from redis.exceptions import RedisError

from bot.stores.stop_signals import StopSignals

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0  # between attempts to listen again after Redis failed
# How long the listener stays subscribed after the last answer here ended. Answers come one
# after another in a quiet workspace: subscribing anew for each cost a connection, SUBSCRIBE and
# its confirmation, a catch-up read and a registration refresh (~2 ms of CPU an answer).
LINGER_SECONDS = 30.0
LISTENER_NAME = "stop-requests"  # the listener task's name


class StopOutcome(Enum):
    STOPPED = "stopped"
    NOT_ALLOWED = "not_allowed"
    NOT_RUNNING = "not_running"  # already finished, or never known
    UNREACHABLE = "unreachable"  # streaming elsewhere, perhaps, but Redis could not be asked


_VERDICTS = {
    "stopped": StopOutcome.STOPPED,
    "not_allowed": StopOutcome.NOT_ALLOWED,
    "not_running": StopOutcome.NOT_RUNNING,
}


@dataclass(slots=True)
class _Run:
    task: asyncio.Task[object]
    asker: str | None
    stopped_by: str | None = None


class StopRegistry:
    def __init__(
        self,
        signals: StopSignals,
        *,
        admin_users: Collection[str],
        refresh_seconds: float | None = None,
        retry_seconds: float = RETRY_SECONDS,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self._signals = signals
        self._admin_users = admin_users
        self._refresh = refresh_seconds if refresh_seconds is not None else signals.ttl / 3
        self._retry = retry_seconds
        self._linger = linger_seconds
        self._running: dict[str, _Run] = {}
        self._listener: asyncio.Task[None] | None = None
        self._idle_since: float | None = None  # when the last answer here ended; None while some run

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.done()

    async def register(self, answer_id: str, task: asyncio.Task[object], asker: str | None) -> None:
        self._running[answer_id] = _Run(task, asker)
        self._idle_since = None
        await self._signals.announce({answer_id: asker})
        if not self.listening:
            self._listener = asyncio.create_task(self._listen(), name=LISTENER_NAME)

    async def unregister(self, answer_id: str) -> None:
        """From here on the answer cannot be stopped (its final edit must not be cancelled)."""
        self._running.pop(answer_id, None)  # first, before anything can wait
        if not self._running:  # (also before the wait: the listener reads it meanwhile)
            self._idle_since = asyncio.get_running_loop().time()  # the listener ends after its linger
        await self._signals.withdraw(answer_id)

    async def close(self) -> None:
        """Stop listening now (shutdown)."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        # Python 3.11's asyncio.wait_for (inside redis-py) can swallow a cancellation that lands
        # as its inner call completes, so cancel until the listener has ended.
        while not listener.done():
            listener.cancel()
            await asyncio.wait([listener], timeout=0.05)  # our own cancellation still reaches us

    def stopped_by(self, answer_id: str) -> str | None:
        run = self._running.get(answer_id)
        return run.stopped_by if run is not None else None

    async def stop(self, answer_id: str, user: str, *, is_admin: bool) -> StopOutcome:
        privileged = is_admin or user in self._admin_users
        run = self._running.get(answer_id)
        if run is None:
            verdict = await self._signals.request(answer_id, user, privileged=privileged)
            return StopOutcome.UNREACHABLE if verdict is None else _VERDICTS[verdict]
        if run.task.done():
            return StopOutcome.NOT_RUNNING
        if not (privileged or user == run.asker):
            return StopOutcome.NOT_ALLOWED
        self._cancel(answer_id, user)
        return StopOutcome.STOPPED

    def _cancel(self, answer_id: str, user: str) -> None:
        run = self._running.get(answer_id)
        if run is not None and run.stopped_by is None and not run.task.done():
            run.stopped_by = user
            run.task.cancel()

    async def _listen(self) -> None:
        """While answers stream here: take Stop requests published by other replicas, and keep
        this replica's registrations alive."""
        loop = asyncio.get_running_loop()
        # Checked again after every await that ends a subscription: an answer that registered
        # meanwhile saw this task still running and started no listener of its own.
        while not self._lingered(loop.time()):
            try:
                async with self._signals.listening() as inbox:
                    await self._catch_up()
                    next_refresh = loop.time() + self._refresh
                    while not self._lingered(now := loop.time()):
                        # Nothing wakes this wait when the last answer ends, so while answers
                        # run it wakes at least once a linger: it leaves within two of them.
                        idle = self._idle_since
                        wake = min(next_refresh, (now if idle is None else idle) + self._linger)
                        request = await inbox.next(timeout=max(0.0, wake - now))
                        if request is not None:
                            self._cancel(*request)
                        if loop.time() >= next_refresh:
                            await self._signals.announce(self._askers())
                            next_refresh = loop.time() + self._refresh
            except (RedisError, OSError, TimeoutError) as exc:
                log.info("not listening for Stop requests (%s); trying again shortly", type(exc).__name__)
                await asyncio.sleep(self._retry)

    def _lingered(self, now: float) -> bool:
        """No answer runs here, and none has for the linger."""
        return not self._running and (self._idle_since is None or now >= self._idle_since + self._linger)

    async def _catch_up(self) -> None:
        """Requests published before this subscription was in place, and registrations that
        expired while Redis was away."""
        for answer_id, user in (await self._signals.requested(list(self._running))).items():
            self._cancel(answer_id, user)
        await self._signals.announce(self._askers())

    def _askers(self) -> dict[str, str | None]:
        return {answer_id: run.asker for answer_id, run in self._running.items()}
