"""The state of the fake Slack workspace: users, channels (and who is in them) and messages.

Tests seed it directly (`add_user`, `add_channel`, `seed_message`) and read it back (`message`,
`thread_messages`, `channel_messages`); the Web API methods in `methods` work on the same state.
"""

from __future__ import annotations

import copy

from tests.fakes.signing import new_ts, ts_to_micros
from tests.fakes.slack.params import Params, SlackError


class Workspace:
    """One team with one bot: its users, channels and messages, and the helpers tests seed them with."""

    def __init__(
        self,
        *,
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T1",
        app_id: str = "A1",
        team_name: str = "Fake Workspace",
        bot_name: str = "relaybot",
    ) -> None:
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.app_id = app_id
        self.team_name = team_name
        self.bot_name = bot_name

        self.messages: dict[str, dict[str, Params]] = {}
        """Stored messages: channel → ts → message (as stored; the helpers add thread fields)."""
        self.channels: dict[str, Params] = {}
        self.members: dict[str, list[str] | None] = {}
        """Human members of each channel for conversations.members (None: every human user)."""
        self.users: dict[str, Params] = {}
        self.usergroups: dict[str, Params] = {}
        self._latest_ts: str | None = None
        self.add_user(bot_user_id, bot_name, bot_name, is_bot=True)

    # -- seeding and inspection ------------------------------------------------------------

    def add_user(
        self,
        id: str,
        display_name: str,
        real_name: str | None = None,
        *,
        name: str | None = None,
        is_bot: bool = False,
        is_admin: bool = False,
        tz: str = "Europe/London",
    ) -> Params:
        """Add a workspace member that users.info will describe (`is_admin`: a workspace admin)."""
        real_name = real_name if real_name is not None else display_name
        user: Params = {
            "id": id,
            "team_id": self.team_id,
            "name": name or display_name.lower().replace(" ", "."),
            "deleted": False,
            "real_name": real_name,
            "tz": tz,
            "is_admin": is_admin,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
            "profile": {
                "display_name": display_name,
                "display_name_normalized": display_name,
                "real_name": real_name,
                "real_name_normalized": real_name,
                "team": self.team_id,
            },
        }
        if is_bot and id == self.bot_user_id:
            user["profile"]["bot_id"] = self.bot_id
            user["profile"]["api_app_id"] = self.app_id
        self.users[id] = user
        return user

    def add_usergroup(
        self, id: str, handle: str, name: str, *, users: list[str] | None = None, disabled: bool = False
    ) -> Params:
        """A user group as usergroups.list describes it (`disabled`: deleted, shown only on request)."""
        members = users or []
        group: Params = {
            "id": id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "is_subteam": True,
            "name": name,
            "description": "",
            "handle": handle,
            "is_external": False,
            "date_create": 1_700_000_000,
            "date_update": 1_700_000_000,
            "date_delete": 1_700_000_100 if disabled else 0,
            "auto_type": None,
            "auto_provision": False,
            "enterprise_subteam_id": "",
            "created_by": "U1",
            "updated_by": "U1",
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
            "users": members,
            "user_count": len(members),
            "channel_count": 0,
        }
        self.usergroups[id] = group
        return group

    def add_channel(
        self,
        id: str,
        *,
        name: str | None = None,
        is_private: bool = False,
        user: str | None = None,
        bot_member: bool = True,
        members: list[str] | None = None,
    ) -> Params:
        """Describe a conversation for conversations.info: `D…` is a DM (with `user`), `G…` private.

        The bot is in it unless `bot_member=False`. Then, as on Slack, a public channel shows
        `is_member: false` in conversations.info and posting into it or reading it answers
        `not_in_channel`; a private one the bot cannot see at all (`channel_not_found` for every
        method). A DM with the bot is always open to it. `members`: the people in it, for
        conversations.members (default: every human user of the workspace).

        A channel id never added (nor seeded with `seed_message`) does not exist: every method
        answers `channel_not_found` for it.
        """
        created = 1_700_000_000
        if id.startswith("D"):
            info: Params = {
                "id": id,
                "created": created,
                "is_im": True,
                "is_org_shared": False,
                "user": user or "U1",
                "is_user_deleted": False,
                "priority": 0,
                "context_team_id": self.team_id,
            }
        else:
            private = is_private or id.startswith("G")
            channel_name = name or id.lower()
            info = {
                "id": id,
                "name": channel_name,
                "name_normalized": channel_name,
                "is_channel": not private,
                "is_group": private,
                "is_im": False,
                "is_mpim": False,
                "is_private": private,
                "created": created,
                "is_archived": False,
                "is_general": False,
                "is_member": bot_member,
                "is_shared": False,
                "is_ext_shared": False,
                "is_org_shared": False,
                "creator": "U1",
                "context_team_id": self.team_id,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
            }
        self.channels[id] = info
        self.members[id] = [user or "U1"] if id.startswith("D") else members
        self.messages.setdefault(id, {})
        return info

    def seed_message(
        self,
        channel: str,
        text: str,
        user: str,
        thread_ts: str | None = None,
        ts: str | None = None,
        bot_id: str | None = None,
        *,
        blocks: list[Params] | None = None,
    ) -> str:
        """Store a message as if someone had posted it earlier; returns its ts.

        A channel not added yet is added first with `add_channel(channel)` (the bot in it).
        """
        if channel not in self.channels:
            self.add_channel(channel)
        message: Params = {"type": "message", "user": user, "text": text}
        if bot_id is not None:
            message["bot_id"] = bot_id
        if blocks is not None:
            message["blocks"] = blocks
        return self._store(channel, message, thread_ts=thread_ts, ts=ts)

    def message(self, channel: str, ts: str) -> Params:
        """The message as it is now (text after every edit), with Slack's thread fields."""
        try:
            return self._render(channel, self.messages[channel][ts])
        except KeyError:
            raise KeyError(f"no message {ts} in {channel}") from None

    def thread_messages(self, channel: str, thread_ts: str) -> list[Params]:
        """The root (if stored) and replies of a thread, oldest first."""
        store = self.messages.get(channel, {})
        root = [store[thread_ts]] if thread_ts in store else []
        return [self._render(channel, m) for m in root + self._replies(channel, thread_ts)]

    def channel_messages(self, channel: str) -> list[Params]:
        """Messages shown in the channel itself (roots and broadcasts), oldest first."""
        return [self._render(channel, m) for m in self._top_level(channel)]

    # -- message store ---------------------------------------------------------------------------

    def _store(self, channel: str, message: Params, *, thread_ts: str | None, ts: str | None = None) -> str:
        """Keep a message in a channel that exists; returns its ts."""
        store = self.messages[channel]
        ts = ts or new_ts(after=self._latest_ts)
        if self._latest_ts is None or ts_to_micros(ts) > ts_to_micros(self._latest_ts):
            self._latest_ts = ts
        message = {**message, "ts": ts, "team": self.team_id}
        if thread_ts is not None and thread_ts != ts:
            # A reply to a reply lands in the same thread, under the thread's root.
            root = store.get(thread_ts)
            thread_ts = root.get("thread_ts", thread_ts) if root else thread_ts
            message["thread_ts"] = thread_ts
            parent = store.get(thread_ts)
            message["parent_user_id"] = parent.get("user") if parent else message.get("user")
        store[ts] = message
        return ts

    def _replies(self, channel: str, root_ts: str) -> list[Params]:
        store = self.messages.get(channel, {})
        replies = [m for m in store.values() if m.get("thread_ts") == root_ts and m["ts"] != root_ts]
        return sorted(replies, key=lambda m: ts_to_micros(m["ts"]))

    def _top_level(self, channel: str) -> list[Params]:
        store = self.messages.get(channel, {})
        shown = [
            m
            for m in store.values()
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]
        return sorted(shown, key=lambda m: ts_to_micros(m["ts"]))

    def _render(self, channel: str, message: Params) -> Params:
        """A copy of a stored message with the thread summary Slack adds to a thread root."""
        out = copy.deepcopy(message)
        if "parent_user_id" not in message:
            replies = self._replies(channel, message["ts"])
            if replies:
                users = list(dict.fromkeys(r.get("user", "") for r in replies))
                out.update(
                    thread_ts=message["ts"],
                    reply_count=len(replies),
                    reply_users_count=len(users),
                    reply_users=users,
                    latest_reply=replies[-1]["ts"],
                    is_locked=False,
                    subscribed=False,
                )
        return out

    def _find(self, channel: str, ts: str) -> Params:
        if channel not in self.channels:
            raise SlackError("channel_not_found")
        message = self.messages[channel].get(ts)
        if message is None:
            raise SlackError("message_not_found")
        return message

    def _is_ours(self, message: Params) -> bool:
        return message.get("bot_id") == self.bot_id or message.get("user") == self.bot_user_id

    def _bot_fields(self) -> Params:
        return {
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.bot_name,
                "icons": {},
                "deleted": False,
                "updated": 1_700_000_000,
                "team_id": self.team_id,
            },
        }

    def sees(self, user: str, channel: str) -> bool:
        """Whether `user` may read `channel` in Slack: their own DM, a conversation they are in,
        or any public channel unless they are a guest."""
        info = self.channels.get(channel) or {}
        if info.get("is_im"):
            return info.get("user") == user
        members = self.members.get(channel)
        member = members is None or user in members
        private = info.get("is_private") or info.get("is_mpim")
        guest = bool(self.users.get(user, {}).get("is_restricted"))
        return member if (private or guest) else True

    def _dm_for_user(self, channel: str) -> str:
        """A user id passed as chat.postMessage's `channel` posts in the bot's DM with that user
        (opened if it was not), as Slack does; any other id is itself."""
        if not channel.startswith(("U", "W")):
            return channel
        if channel not in self.users or self.users[channel].get("is_bot"):
            raise SlackError("channel_not_found")
        for cid, info in self.channels.items():
            if info.get("is_im") and info.get("user") == channel:
                return cid
        dm = f"D{channel[1:]}"
        self.add_channel(dm, user=channel)
        return dm

    def _visible(self, channel: str) -> Params:
        """The channel's info, if the bot may see it (a private channel only when it is a member)."""
        info = self.channels.get(channel)
        if info is None or (info.get("is_private") and not info.get("is_member")):
            raise SlackError("channel_not_found")
        return info

    def _joined(self, channel: str) -> Params:
        """The channel's info if the bot is in it, so it may post there and read it.

        Refused as Slack does: `channel_not_found` when the bot cannot see the channel (an id
        nobody added, or a private channel without the bot), `not_in_channel` when it can (a public
        channel the bot has not joined). A DM is always the bot's own.
        """
        info = self._visible(channel)
        if not info.get("is_member", True):
            raise SlackError("not_in_channel")
        return info
