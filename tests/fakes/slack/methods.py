"""The fake's Web API methods (chat.*, conversations.*, users.info, views.*, assistant.threads.*)."""

from __future__ import annotations

import base64
import binascii
import copy
import uuid

from tests.fakes.signing import new_ts
from tests.fakes.slack.params import (
    Handler,
    Params,
    SlackError,
    cursor,
    cursor_index,
    flag,
    in_window,
    json_value,
    message_content,
    optional,
    page_limit,
    parse_blocks,
    required,
)
from tests.fakes.slack.search import search_context
from tests.fakes.slack.streams import Streams, recipient_check, stream_content, stream_target
from tests.fakes.slack.workspace import Workspace

POST_TEXT_LIMIT = 40_000  # chat.postMessage truncates longer text
UPDATE_TEXT_LIMIT = 4_000  # chat.update answers msg_too_long above this
REPLIES_MAX_LIMIT = 1_000
HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT = 100, 999
PERMALINK_BASE = "https://fake.slack.com/archives"


class WebApi(Workspace):
    """The Web API methods, answering from (and writing to) the workspace state.

    Each handler takes the call's arguments and returns the answer's fields (without `ok`), or
    raises `SlackError`. `handlers` maps method names to them; the server adds transport concerns.
    """

    def __init__(self, **identity: str) -> None:
        super().__init__(**identity)
        self.ephemeral: list[Params] = []
        self.home_views: dict[str, Params] = {}
        self.opened_views: list[Params] = []
        self.scopes = ""  # the bot token's scopes, comma-separated (FakeSlack grants its own)
        self.action_tokens: dict[str, str] = {}
        """`action_token`s Slack put in events → the user each one searches as."""
        """Modals opened with views.open, in order (as views.open answered them)."""
        self.streams = Streams()
        """Messages being streamed (chat.startStream); set `max_age` / `idle` to expire them."""
        self.handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "users.info": self._users_info,
            "usergroups.list": self._usergroups_list,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "assistant.threads.setStatus": self._assistant_thread_call("status"),
            "assistant.threads.setSuggestedPrompts": self._assistant_thread_call("prompts"),
            "assistant.threads.setTitle": self._assistant_thread_call("title"),
            "assistant.search.context": lambda params: search_context(self, params),
        }

    # -- Web API methods ---------------------------------------------------------------------------

    def _auth_test(self, params: Params) -> Params:
        return {
            "url": "https://fake.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: Params) -> Params:
        channel = self._dm_for_user(required(params, "channel", "channel_not_found"))
        self._joined(channel)
        content = message_content(params)
        if "text" in content:
            content["text"] = content["text"][:POST_TEXT_LIMIT]
        if "metadata" in params:
            content["metadata"] = json_value(params["metadata"], "invalid_metadata_format")
        thread_ts = optional(params, "thread_ts")
        if thread_ts and flag(params, "reply_broadcast"):
            content["subtype"] = "thread_broadcast"
        message = {"type": "message", **content, **self._bot_fields()}
        ts = self._store(channel, message, thread_ts=thread_ts)
        return {"channel": channel, "ts": ts, "message": self._render(channel, self.messages[channel][ts])}

    def _chat_update(self, params: Params) -> Params:
        channel = required(params, "channel", "channel_not_found")
        ts = required(params, "ts", "message_not_found")
        self._joined(channel)
        message = self._find(channel, ts)
        if not self._is_ours(message):
            raise SlackError("cant_update_message")
        if self.streams.is_streaming(channel, ts):
            raise SlackError("streaming_state_conflict")
        content = message_content(params)
        if len(content.get("text", "")) > UPDATE_TEXT_LIMIT:
            raise SlackError("msg_too_long")
        message.update(content)  # blocks/attachments not sent are kept, as on Slack
        message["edited"] = {"user": self.bot_user_id, "ts": new_ts(after=self._latest_ts)}
        rendered = self._render(channel, message)
        return {"channel": channel, "ts": ts, "text": message.get("text", ""), "message": rendered}

    def _chat_start_stream(self, params: Params) -> Params:
        channel = required(params, "channel", "channel_not_found")
        info = self._joined(channel)
        recipient_check(params, is_dm=bool(info.get("is_im")))
        text, others = stream_content(params, needed=False)
        message: Params = {"type": "message", "text": "", "blocks": [], **self._bot_fields()}
        self._stream_into(message, text, others)
        ts = self._store(channel, message, thread_ts=optional(params, "thread_ts"))
        self.streams.open(channel, ts)
        return {"channel": channel, "ts": ts}

    def _chat_append_stream(self, params: Params) -> Params:
        channel, ts = stream_target(params)
        self._joined(channel)
        message = self._streaming(channel, ts)
        text, others = stream_content(params, needed=True)
        self._stream_into(message, text, others)
        return {"channel": channel, "ts": ts}

    def _chat_stop_stream(self, params: Params) -> Params:
        channel, ts = stream_target(params)
        self._joined(channel)
        message = self._streaming(channel, ts)
        text, others = stream_content(params, needed=False)
        self._stream_into(message, text, others)
        if "blocks" in params:
            message["blocks"] = [*message.get("blocks", []), *parse_blocks(params["blocks"])]
        if "metadata" in params:
            message["metadata"] = json_value(params["metadata"], "invalid_metadata_format")
        self.streams.close(channel, ts)
        return {"channel": channel, "ts": ts, "message": self._render(channel, message)}

    def _streaming(self, channel: str, ts: str) -> Params:
        message = self._find(channel, ts)
        if not self._is_ours(message):
            raise SlackError("message_not_in_streaming_state")
        self.streams.touch(channel, ts)
        return message

    @staticmethod
    def _stream_into(message: Params, text: str, others: list[Params]) -> None:
        """What Slack shows: the blocks of `blocks` chunks (e.g. buttons), then the Markdown streamed
        so far in one markdown block; task and plan updates are kept in `chunks`."""
        message["text"] = message.get("text", "") + text
        if others:
            message["chunks"] = [*message.get("chunks", []), *others]
        chunks = message.get("chunks", [])
        shown = [b for chunk in chunks if chunk["type"] == "blocks" for b in chunk["blocks"]]
        if message["text"]:
            shown.append({"type": "markdown", "text": message["text"]})
        message["blocks"] = shown

    def _chat_delete(self, params: Params) -> Params:
        channel = required(params, "channel", "channel_not_found")
        ts = required(params, "ts", "message_not_found")
        message = self._find(channel, ts)
        if not self._is_ours(message):
            raise SlackError("cant_delete_message")
        store = self.messages[channel]
        if "parent_user_id" not in message and self._replies(channel, ts):
            # A thread root with replies leaves a tombstone behind.
            store[ts] = {
                "type": "message",
                "subtype": "tombstone",
                "user": "USLACKBOT",
                "text": "This message was deleted.",
                "hidden": True,
                "ts": ts,
                "thread_ts": ts,
                "team": self.team_id,
            }
        else:
            del store[ts]
        return {"channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, params: Params) -> Params:
        channel = required(params, "channel", "channel_not_found")
        self._joined(channel)
        user = required(params, "user", "user_not_found")
        content = message_content(params)
        ts = new_ts(after=self._latest_ts)
        thread_ts = optional(params, "thread_ts")
        self.ephemeral.append({"channel": channel, "user": user, "ts": ts, "thread_ts": thread_ts, **content})
        return {"message_ts": ts}

    def _chat_get_permalink(self, params: Params) -> Params:
        channel = required(params, "channel", "channel_not_found")
        message = self._find(channel, required(params, "message_ts", "message_not_found"))
        link = f"{PERMALINK_BASE}/{channel}/p{message['ts'].replace('.', '')}"
        if "parent_user_id" in message:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _conversations_replies(self, params: Params) -> Params:
        channel = required(params, "channel", "channel_not_found")
        ts = required(params, "ts", "thread_not_found")
        self._joined(channel)
        message = self.messages[channel].get(ts)
        if message is None:
            raise SlackError("thread_not_found")
        if "parent_user_id" in message:
            # Slack answers a reply's ts with just that reply (slackapi/bolt-python#783).
            thread = [message]
        else:
            replies = in_window(self._replies(channel, ts), params)
            thread = [message, *replies]  # the root comes first whatever oldest/latest say
        limit = page_limit(params, default=REPLIES_MAX_LIMIT, maximum=REPLIES_MAX_LIMIT)
        start = cursor_index(thread, params, newest_first=False)
        page, rest = thread[start : start + limit], thread[start + limit :]
        return {
            "messages": [self._render(channel, m) for m in page],
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": cursor(rest[0]) if rest else ""},
        }

    def _conversations_history(self, params: Params) -> Params:
        channel = required(params, "channel", "channel_not_found")
        self._joined(channel)
        shown = list(reversed(in_window(self._top_level(channel), params)))
        limit = page_limit(params, default=HISTORY_DEFAULT_LIMIT, maximum=HISTORY_MAX_LIMIT)
        start = cursor_index(shown, params, newest_first=True)
        page, rest = shown[start : start + limit], shown[start + limit :]
        return {
            "messages": [self._render(channel, m) for m in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor(rest[0]) if rest else ""},
        }

    def _conversations_info(self, params: Params) -> Params:
        info = self._visible(required(params, "channel", "channel_not_found"))
        return {"channel": copy.deepcopy(info)}

    def _conversations_members(self, params: Params) -> Params:
        channel = required(params, "channel", "channel_not_found")
        info = self._visible(channel)
        humans = self.members.get(channel)
        if humans is None:
            humans = [u for u, user in self.users.items() if not user["is_bot"] and not user["deleted"]]
        members = [*humans, self.bot_user_id] if info.get("is_member", info.get("is_im")) else humans
        limit = page_limit(params, default=100, maximum=1_000)
        start = 0
        if (raw := optional(params, "cursor")) is not None:
            try:
                prefix, _, after = base64.b64decode(raw, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise SlackError("invalid_cursor") from None
            if prefix != "user" or after not in members:
                raise SlackError("invalid_cursor")
            start = members.index(after)
        page, rest = members[start : start + limit], members[start + limit :]
        next_cursor = base64.b64encode(f"user:{rest[0]}".encode()).decode() if rest else ""
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _users_info(self, params: Params) -> Params:
        user = self.users.get(required(params, "user", "user_not_found"))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _usergroups_list(self, params: Params) -> Params:
        groups = [
            g for g in self.usergroups.values() if flag(params, "include_disabled") or not g["date_delete"]
        ]
        out = []
        for group in groups:
            shown = copy.deepcopy(group)
            if not flag(params, "include_users"):
                shown.pop("users", None)
            if not flag(params, "include_count"):
                shown.pop("user_count", None)
            out.append(shown)
        return {"usergroups": out}

    def _views_publish(self, params: Params) -> Params:
        user_id = required(params, "user_id", "invalid_arguments")
        view = json_value(params.get("view"), "invalid_arguments")
        if not isinstance(view, dict) or "type" not in view:
            raise SlackError("invalid_arguments")
        published = {
            "id": f"V{uuid.uuid4().hex[:10].upper()}",
            "team_id": self.team_id,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": uuid.uuid4().hex[:16],
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            **view,
        }
        self.home_views[user_id] = published
        return {"view": published}

    def _views_open(self, params: Params) -> Params:
        # A real trigger_id is valid for 3 s and once; the fake only insists that one is given.
        if optional(params, "trigger_id") is None and optional(params, "interactivity_pointer") is None:
            raise SlackError("invalid_arguments")
        view = json_value(params.get("view"), "invalid_arguments")
        if not isinstance(view, dict) or view.get("type") != "modal" or "title" not in view:
            raise SlackError("invalid_arguments")
        view_id = f"V{uuid.uuid4().hex[:10].upper()}"
        opened = {
            "id": view_id,
            "team_id": self.team_id,
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": uuid.uuid4().hex[:16],
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
            **view,
        }
        self.opened_views.append(opened)
        return {"view": opened}

    def _assistant_thread_call(self, argument: str) -> Handler:
        def handle(params: Params) -> Params:
            required(params, "channel_id", "invalid_arguments")
            if argument != "prompts":  # agent experience: prompts pinned to the Messages tab
                required(params, "thread_ts", "invalid_arguments")
            if argument == "status":
                # Required, but an empty string is valid: it clears the status indicator.
                if params.get("status") is None:
                    raise SlackError("invalid_arguments")
            elif argument != "prompts":
                required(params, argument, "invalid_arguments")
            return {}

        return handle
