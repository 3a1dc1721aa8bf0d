"""Backfill a channel's past into history and the knowledge index when the bot joins it
(`KNOWLEDGE_BACKFILL_DAYS`; off by default).

Slack rations the reads: commercially distributed apps outside the Marketplace get
`conversations.history` and `conversations.replies` once a minute each, 15 messages a page. So the
job reads one page per call, waits its turn (`KNOWLEDGE_BACKFILL_PACE`, shared by every replica
through Redis), honours a 429's Retry-After, and saves its cursor after every page: a replica that
stops (or a redeploy) leaves the job to be resumed, by whichever replica gets its lock first.
First the channel's top level (newest first, back to `days` ago), queuing every thread with
replies; then each queued thread's replies. The messages go through the same recording as live
events (history + index), so an edit or deletion arriving later applies as usual.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import Conversation
from bot.slack.identity import Identity
from bot.slack.messages import conversation_of, stored_from_slack
from bot.stores.backfill import BackfillState, BackfillStore
from bot.stores.history import HistoryStore
from bot.stores.index import KnowledgeIndex
from bot.stores.locks import Lease, Locks

log = logging.getLogger(__name__)

PAGE: Final = 15  # Slack's page limit for rationed apps
GONE: Final = frozenset({"channel_not_found", "not_in_channel", "is_archived", "missing_scope"})
MAX_RETRIES: Final = 5  # failed calls of one page before the job waits for the next join or restart


class Backfiller:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        store: BackfillStore,
        locks: Locks,
        history: HistoryStore,
        index: KnowledgeIndex,
        identity: Identity,
        days: int,
        pace_seconds: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._slack = slack
        self._store = store
        self._locks = locks
        self._history = history
        self._index = index
        self._identity = identity
        self.days = days
        self._pace = pace_seconds
        self._clock = clock
        self._sleep = sleep
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    @property
    def _lock_seconds(self) -> float:
        return max(3 * self._pace, 30.0)

    def joined(self, team: str, channel: str) -> None:
        """The bot joined `channel`: backfill it in the background (once per channel at a time)."""
        if self.days <= 0 or not self._index.indexes(channel) or channel.startswith("D"):
            return
        key = (team, channel)
        if key in self._tasks:
            return
        task = asyncio.create_task(self.run(team, channel), name=f"backfill:{channel}")
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._finished(key, t))

    def _finished(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        self._tasks.pop(key, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("backfill of %s failed", key[1], exc_info=exc)

    async def resume(self) -> None:
        """Go on with the jobs a stopped replica left unfinished (called at start-up)."""
        if self.days <= 0:
            return
        for team, channel in await self._store.unfinished():
            self.joined(team, channel)

    async def aclose(self) -> None:
        """Stop every job (their cursors are saved: another start resumes them)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self, team: str, channel: str) -> None:
        lease = await self._locks.acquire(f"backfill:{team}:{channel}", ttl_seconds=self._lock_seconds)
        if lease is None:
            return  # another replica has it
        try:
            await self._run(team, channel, lease)
        finally:
            await self._locks.release(lease)

    async def _run(self, team: str, channel: str, lease: Lease) -> None:
        state = await self._store.state(team, channel)
        if state is None:
            oldest = f"{self._clock() - self.days * 86400:.6f}"
            state = BackfillState(phase="history", oldest=oldest)
            await self._store.save(team, channel, state)
            log.info("backfilling the last %d days of %s", self.days, channel)
        while state.phase == "history":
            response = await self._call(
                team, channel, lease, "conversations.history", state.cursor, state.oldest
            )
            if response is None:
                return
            top: list[Any] = list(response.get("messages") or ())
            await self._record(team, channel, None, top)
            threads = [str(m["ts"]) for m in reversed(top) if m.get("reply_count") and m.get("ts")]
            await self._store.queue_threads(team, channel, threads)
            cursor = _next_cursor(response)
            state = BackfillState("history" if cursor else "replies", state.oldest, cursor)
            await self._store.save(team, channel, state)
        while (thread := await self._store.next_thread(team, channel)) is not None:
            response = await self._call(
                team, channel, lease, "conversations.replies", state.thread_cursor, thread=thread
            )
            if response is None:
                return
            await self._record(team, channel, thread, list(response.get("messages") or ()))
            cursor = _next_cursor(response)
            state = BackfillState("replies", state.oldest, "", cursor)
            if not cursor:
                await self._history.mark_backfilled(Conversation(team, channel, thread))
                await self._store.thread_done(team, channel)
            await self._store.save(team, channel, state)
        await self._store.save(team, channel, BackfillState("done", state.oldest))
        log.info("backfill of %s done", channel)

    async def _call(
        self,
        team: str,
        channel: str,
        lease: Lease,
        method: str,
        cursor: str,
        oldest: str | None = None,
        *,
        thread: str | None = None,
    ) -> Mapping[str, Any] | None:
        """One page, in its turn; None when the job cannot go on now."""
        for _ in range(MAX_RETRIES):
            wait = await self._store.wait_for_slot(team, method, self._pace)
            if not await self._hold_while_waiting(lease, wait):
                return None  # lost the lock (a long Redis outage): someone else goes on
            try:
                if thread is None:
                    response = await self._slack.conversations_history(
                        channel=channel, limit=PAGE, oldest=oldest, cursor=cursor or None
                    )
                else:
                    response = await self._slack.conversations_replies(
                        channel=channel, ts=thread, limit=PAGE, cursor=cursor or None
                    )
                return response.data if isinstance(response.data, dict) else {}
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "")
                if error in GONE or error == "thread_not_found":
                    if thread is None:
                        log.info("backfill of %s stopped: %s", channel, error)
                        await self._store.forget(team, channel)
                        return None
                    return {}  # a deleted thread: nothing to read, go on
                await self._sleep(_retry_after(exc.response.headers or {}) or self._pace)
            except (aiohttp.ClientError, TimeoutError):
                await self._sleep(self._pace)
        log.warning("backfill of %s paused after %d failed calls", channel, MAX_RETRIES)
        return None

    async def _hold_while_waiting(self, lease: Lease, seconds: float) -> bool:
        """Wait for a slot (other channels' jobs may be queued before it), keeping the lock."""
        while True:
            if not await self._locks.refresh(lease, ttl_seconds=self._lock_seconds):
                return False
            if seconds <= 0:
                return True
            step = min(seconds, self._lock_seconds / 3)
            await self._sleep(step)
            seconds -= step

    async def _record(self, team: str, channel: str, thread: str | None, raw: list[Any]) -> None:
        for item in raw:
            if not isinstance(item, dict) or self._identity.is_self(item):
                continue
            message = stored_from_slack(item, self._identity)
            if message is None:
                continue
            where = Conversation(team, channel, thread) if thread else conversation_of(team, channel, item)
            await self._history.record(where, message)
            await self._index.index_message(conversation_of(team, channel, item), message)


def _next_cursor(response: Mapping[str, Any]) -> str:
    return str((response.get("response_metadata") or {}).get("next_cursor") or "")


def _retry_after(headers: Mapping[str, Any]) -> float:
    """A 429's Retry-After seconds (0 when absent or unreadable)."""
    raw = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    try:
        return max(float(raw), 0.0) if raw is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
