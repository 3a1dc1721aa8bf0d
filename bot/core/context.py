"""What a conversation holds up to a question: from Redis, backfilled from Slack at most once,
with the display names of the people in it.

Slack's history reads are rationed, so Slack is asked only for a conversation Redis never saw
(a thread started before the bot was there) or while Redis is down.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.web.async_client import AsyncWebClient

from bot.model import Conversation, StoredMessage, ts_key
from bot.slack.identity import BotIdentity
from bot.slack.reads import fetch_channel_since, fetch_recent, fetch_thread
from bot.slack.users import UserDirectory
from bot.stores.history import HistoryStore
from bot.text.slack_markup import mentioned_user_ids

RECENT_DM_MESSAGES = 50


class ConversationReader:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        history: HistoryStore,
        users: UserDirectory,
        identity: BotIdentity,
        max_messages: int,
    ) -> None:
        self._slack = slack
        self._history = history
        self._users = users
        self._identity = identity
        self._max_messages = max_messages

    async def read(self, conv: Conversation, asked: StoredMessage | None = None) -> list[StoredMessage]:
        """The conversation (up to and including `asked`), oldest first."""
        snapshot = await self._history.load(conv)
        messages: Sequence[StoredMessage]
        if snapshot is None:
            messages = await self._from_slack(conv, asked)  # Redis is down: Slack is all we have
        elif not snapshot.known and _needs_backfill(conv, asked):
            fetched = await self._from_slack(conv, asked)
            messages = await self._backfill(conv, fetched, snapshot.messages)
        else:
            messages = snapshot.messages
        by_ts = {m.ts: m for m in messages}
        if asked is None:
            return sorted(by_ts.values(), key=lambda m: ts_key(m.ts))
        by_ts[asked.ts] = asked
        limit = ts_key(asked.ts)
        return sorted((m for m in by_ts.values() if ts_key(m.ts) <= limit), key=lambda m: ts_key(m.ts))

    async def channel_since(self, conv: Conversation, oldest: str) -> list[StoredMessage]:
        """Top-level messages of a channel since `oldest`, oldest first (backfilled once)."""
        snapshot = await self._history.load(conv)
        if snapshot is None or not snapshot.known:
            fetched = await fetch_channel_since(
                self._slack,
                channel=conv.channel,
                oldest=oldest,
                identity=self._identity,
                max_messages=self._max_messages,
            )
            messages = (
                await self._backfill(conv, fetched, snapshot.messages) if snapshot is not None else fetched
            )
        else:
            messages = snapshot.messages
        floor = ts_key(oldest)
        found = {m.ts: m for m in messages if ts_key(m.ts) >= floor}
        return sorted(found.values(), key=lambda m: ts_key(m.ts))

    async def names(self, team: str, history: Sequence[StoredMessage]) -> dict[str, str]:
        """Display names of the authors and the people mentioned (not the bot's own)."""
        people = [u for u in _people(history) if u != self._identity.user_id]
        return await self._users.names(team, people)

    async def _backfill(
        self, conv: Conversation, fetched: list[StoredMessage], recorded: list[StoredMessage]
    ) -> list[StoredMessage]:
        # What Redis holds wins: e.g. a /ask question is recorded as the asker's words, while
        # Slack shows it as the bot's post.
        known = {m.ts for m in recorded}
        await self._history.record_many(conv, [m for m in fetched if m.ts not in known])
        await self._history.mark_backfilled(conv)
        return [*fetched, *recorded]

    async def _from_slack(self, conv: Conversation, asked: StoredMessage | None) -> list[StoredMessage]:
        if conv.thread_ts is None:
            return await fetch_recent(
                self._slack, channel=conv.channel, identity=self._identity, limit=RECENT_DM_MESSAGES
            )
        if asked is not None and conv.thread_ts == asked.ts:
            return [asked]
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
