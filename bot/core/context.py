"""What a conversation holds up to a question: from Redis, backfilled from Slack once it has
been read whole, with the display names of the people in it.

Slack's history reads are rationed, so Slack is asked only for a conversation Redis never saw
(a thread started before the bot was there) or while Redis is down. A backfill cut short (a 429
on a later page) is used for the answer at hand but not marked done, so the next question reads
the conversation again. One backfill per conversation runs at a time, across replicas: a reader
that finds another one reading waits for it (briefly) and then takes what it recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.attachments import FileContents
from bot.model import Conversation, StoredMessage, order_key, ts_key
from bot.slack.identity import Identity
from bot.slack.reads import Read, fetch_channel_since, fetch_recent, fetch_thread
from bot.slack.references import ReferenceDirectory
from bot.slack.users import UserDirectory
from bot.stores.history import HistoryStore, ThreadSnapshot
from bot.stores.locks import Locks
from bot.text.slack_markup import mentioned_user_ids, referenced_ids

RECENT_DM_MESSAGES = 50
BACKFILL_LOCK_SECONDS = 60.0  # a backfill holds its conversation at most this long
BACKFILL_WAIT_SECONDS = 10.0  # how long another reader waits for it before going on without it


class ConversationReader:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        history: HistoryStore,
        users: UserDirectory,
        identity: Identity,
        locks: Locks,
        max_messages: int,
        backfill_wait_seconds: float = BACKFILL_WAIT_SECONDS,
        files: FileContents | None = None,
        references: ReferenceDirectory | None = None,
    ) -> None:
        self._slack = slack
        self._history = history
        self._users = users
        self._identity = identity
        self._locks = locks
        self._max_messages = max_messages
        self._backfill_wait = backfill_wait_seconds
        self._files = files
        self._references = references

    async def read(self, conv: Conversation, asked: StoredMessage | None = None) -> list[StoredMessage]:
        """The conversation (up to and including `asked`), in order (see `order_key`)."""
        snapshot = await self._history.load(conv)
        messages: Sequence[StoredMessage]
        if snapshot is None:
            messages = (await self._from_slack(conv, asked)).messages  # Redis is down: Slack is all
        elif not snapshot.known and _needs_backfill(conv, asked):
            messages = await self._backfill_once(conv, snapshot, lambda: self._from_slack(conv, asked))
        else:
            messages = snapshot.messages
        by_ts = {m.ts: m for m in messages}
        if asked is None:
            return await self._with_files(conv, sorted(by_ts.values(), key=order_key))
        by_ts[asked.ts] = asked
        limit = order_key(asked)  # earlier answers come in, answers to `asked` itself do not
        found = sorted((m for m in by_ts.values() if order_key(m) <= limit), key=order_key)
        return await self._with_files(conv, found)

    async def channel_since(self, conv: Conversation, oldest: str) -> list[StoredMessage]:
        """Top-level messages of a channel since `oldest`, oldest first (backfilled once)."""
        snapshot = await self._history.load(conv)

        def fetch() -> Awaitable[Read]:
            return fetch_channel_since(
                self._slack,
                channel=conv.channel,
                oldest=oldest,
                identity=self._identity,
                max_messages=self._max_messages,
            )

        if snapshot is None:
            messages = (await fetch()).messages
        elif not snapshot.known:
            messages = await self._backfill_once(conv, snapshot, fetch)
        else:
            messages = snapshot.messages
        floor = ts_key(oldest)
        found = {m.ts: m for m in messages if ts_key(m.ts) >= floor}
        return await self._with_files(conv, sorted(found.values(), key=order_key))

    async def names(self, team: str, history: Sequence[StoredMessage]) -> dict[str, str]:
        """Display names of the authors and the people mentioned (not the bot's own), and the
        names of channels and user groups referenced by ID alone."""
        people = [u for u in _people(history) if u != self._identity.user_id]
        names = await self._users.names(team, people)
        if self._references is not None:
            referenced = [i for m in history for i in referenced_ids(m.text)]
            names.update(await self._references.names(team, referenced))
        return names

    async def _with_files(self, conv: Conversation, messages: list[StoredMessage]) -> list[StoredMessage]:
        """The messages with their text files' contents (what the model reads; never recorded)."""
        if self._files is None:
            return messages
        return await self._files.expand(conv.team, messages)

    async def _backfill_once(
        self, conv: Conversation, snapshot: ThreadSnapshot, fetch: Callable[[], Awaitable[Read]]
    ) -> list[StoredMessage]:
        """Backfill `conv` from Slack unless another reader is at it; then wait for that one."""
        name = f"backfill:{conv.id}"
        lease = await self._locks.acquire(name, ttl_seconds=BACKFILL_LOCK_SECONDS)
        if lease is None:
            return await self._after_other_backfill(conv, name, snapshot)
        try:
            current = await self._history.load(conv)  # one may have finished since our first look
            if current is not None and current.known:
                return current.messages
            return await self._backfill(conv, await fetch(), (current or snapshot).messages)
        finally:
            await self._locks.release(lease)

    async def _after_other_backfill(
        self, conv: Conversation, name: str, snapshot: ThreadSnapshot
    ) -> list[StoredMessage]:
        """What another reader's backfill recorded, once it is over (or without it after a wait)."""
        await self._locks.wait_released(name, seconds=self._backfill_wait)
        current = await self._history.load(conv)
        return (current or snapshot).messages

    async def _backfill(
        self, conv: Conversation, read: Read, recorded: list[StoredMessage]
    ) -> list[StoredMessage]:
        # What Redis holds wins: e.g. a /ask question is recorded as the asker's words, while
        # Slack shows it as the bot's post.
        known = {m.ts for m in recorded}
        await self._history.record_many(conv, [m for m in read.messages if m.ts not in known])
        if read.complete:  # a read cut short is used now, and done again next time
            await self._history.mark_backfilled(conv)
        return [*read.messages, *recorded]

    async def _from_slack(self, conv: Conversation, asked: StoredMessage | None) -> Read:
        if conv.thread_ts is None:
            return await fetch_recent(
                self._slack, channel=conv.channel, identity=self._identity, limit=RECENT_DM_MESSAGES
            )
        if asked is not None and conv.thread_ts == asked.ts:
            return Read([asked], complete=True)
        return await fetch_thread(
            self._slack,
            channel=conv.channel,
            thread_ts=conv.thread_ts,
            identity=self._identity,
            max_messages=self._max_messages,
        )


def _needs_backfill(conv: Conversation, asked: StoredMessage | None) -> bool:
    # A mention that starts a thread has no earlier history; a reply in an older thread or a
    # DM conversation might.
    return asked is None or conv.thread_ts != asked.ts


def _people(history: Sequence[StoredMessage]) -> list[str]:
    """Authors and people mentioned, whose display names the prompt needs."""
    users: list[str] = []
    for message in (m for m in history if not m.own):
        if message.user:
            users.append(message.user)
        users.extend(mentioned_user_ids(message.text))
    return users
