"""Which conversations' text may go into one answer: what the asker may see, narrowed to what
everyone who will read the answer may see.

Built once per request, so each channel is decided once however many hits it has. The rules,
on top of `Access.refusal` for the asker:
- the conversation the answer is posted in: its own text is fine (everyone there sees it);
- an answer in the asker's own DM with the bot (or the assistant pane) may use anything the
  asker may see — except other DMs, which never leave their own conversation;
- an answer in a channel (public or private) may use public channels only, and only when no
  guest is among that channel's members (a guest does not see other public channels); a private
  channel's text never appears anywhere but in itself and its members' own DMs with the bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from bot.slack.access import Access, ChannelView, Memo


class Audience:
    def __init__(self, access: Access, *, asker: str, posted_in: str, bot_user: str) -> None:
        self._access = access
        self._asker = asker
        self._posted_in = posted_in
        self._bot_user = bot_user
        self._decided: dict[str, bool] = {}
        self._asker_may: dict[str, bool] = {}
        self._views: dict[str, ChannelView | None] = {}
        self._guests: asyncio.Task[bool] | None = None
        self._memo = Memo()

    async def decide_all(self, channels: Iterable[str]) -> None:
        """Decide `channels` at once: each costs Slack calls (conversations.info, members), which
        take tens of milliseconds each on real Slack, so one at a time would add them up. What
        every decision shares (the channel answered in) is looked up first, once."""
        await self.asker_may(self._posted_in)
        await self.view(self._posted_in)
        await asyncio.gather(*(self.allows(c) for c in dict.fromkeys(channels)))

    async def view(self, channel: str) -> ChannelView | None:
        if channel not in self._views:
            self._views[channel] = await self._access.view(channel, self._memo)
        return self._views[channel]

    async def allows(self, channel: str) -> bool:
        if channel not in self._decided:
            self._decided[channel] = await self._decide(channel)
        return self._decided[channel]

    async def asker_may(self, channel: str) -> bool:
        """Whether the asker may see `channel` at all (what an answer just for them could use)."""
        if channel not in self._asker_may:
            refusal = await self._access.refusal(channel, self._asker, doing="search", memo=self._memo)
            self._asker_may[channel] = refusal is None
        return self._asker_may[channel]

    async def _decide(self, channel: str) -> bool:
        if not await self.asker_may(channel):
            return False
        if channel == self._posted_in:
            return True
        source, target = await self.view(channel), await self.view(self._posted_in)
        if source is None or target is None or source.kind == "im":
            return False  # a DM's text stays in that DM
        if target.kind == "im":
            # The asker's own DM with the bot: what the asker may see (checked above).
            return (
                await self._access.refusal(self._posted_in, self._asker, doing="answer in", memo=self._memo)
                is None
            )
        if source.kind == "private":
            return False  # a private channel's text never in another channel
        if self._guests is None:  # one check, however many channels wait for it
            self._guests = asyncio.ensure_future(
                self._access.has_guests(self._posted_in, besides=(self._bot_user,), memo=self._memo)
            )
        return not await self._guests
