"""The vocabulary every layer shares: where messages live and how one is kept.

Slack timestamps identify messages; `ts_key` orders them the way Slack does, and `order_key`
orders a conversation's history: by ts, except that an answer sorts right after its question.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


def ts_key(ts: str) -> tuple[int, int]:
    """Slack timestamps sort numerically as (seconds, micro-sequence); as floats they would collide."""
    seconds, _, frac = ts.partition(".")
    return int(seconds or 0), int(frac or 0)


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where messages live: a thread (`thread_ts`) or the top level of a channel or DM (None)."""

    team: str
    channel: str
    thread_ts: str | None = None

    @property
    def top_level(self) -> Conversation:
        return Conversation(self.team, self.channel, None)

    @property
    def id(self) -> str:
        """`team:channel:thread` (or `:main` for a top level): one spelling for every store's keys."""
        return f"{self.team}:{self.channel}:{self.thread_ts or 'main'}"


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file a message carries, as much of Slack's file object as reading it needs.

    Kept with the message so that the conversation reader can add a text file's contents when it
    builds a prompt (fetched then, and cached), instead of storing the contents in the history.
    """

    id: str
    name: str = ""
    filetype: str = ""  # Slack's short type: "python", "text", "png", …
    mimetype: str = ""
    pretty_type: str = ""  # "Python", "Plain Text", …
    size: int = 0
    url: str = ""  # url_private_download, else url_private: needs the bot token
    mode: str = ""  # "hosted", "snippet", "tombstone", "file_access", …
    access: str = ""  # file_access: "check_file_info" / "access_denied" (Slack Connect), …
    alt: str = ""  # alt_txt an uploader wrote for an image

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> FileRef:
        def text(key: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) else ""

        size = data.get("size")
        return cls(
            id=text("id"),
            name=text("name") or text("title"),
            filetype=text("filetype"),
            mimetype=text("mimetype"),
            pretty_type=text("pretty_type"),
            size=size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 0,
            url=text("url_private_download") or text("url_private"),
            mode=text("mode"),
            access=text("file_access"),
            alt=text("alt_txt"),
        )

    def dump(self) -> dict[str, Any]:
        """In Slack's own field names, so that `of` reads it back."""
        data = {
            "id": self.id,
            "name": self.name,
            "filetype": self.filetype,
            "mimetype": self.mimetype,
            "pretty_type": self.pretty_type,
            "size": self.size,
            "url_private": self.url,
            "mode": self.mode,
            "file_access": self.access,
            "alt_txt": self.alt,
        }
        return {k: v for k, v in data.items() if v not in ("", 0)}


@dataclass(frozen=True, slots=True)
class StoredMessage:
    ts: str
    text: str
    user: str | None = None
    bot_id: str | None = None
    own: bool = False  # the bot's own answer: an `assistant` turn
    thread_ts: str | None = None
    # An answer's question: the answer sorts right after it, whenever its placeholder was posted
    # (the real `ts` still names the message, for edits and deletions).
    after: str | None = None
    files: tuple[FileRef, ...] = ()

    def dumps(self) -> str:
        data: dict[str, Any] = {
            "ts": self.ts,
            "text": self.text,
            "user": self.user,
            "bot_id": self.bot_id,
            "own": self.own,
            "thread_ts": self.thread_ts,
            "after": self.after,
            "files": [f.dump() for f in self.files],
        }
        return json.dumps({k: v for k, v in data.items() if v not in (None, False, [])}, ensure_ascii=False)

    @classmethod
    def loads(cls, raw: str) -> StoredMessage:
        data = json.loads(raw)
        return cls(
            ts=str(data["ts"]),
            text=str(data.get("text", "")),
            user=data.get("user"),
            bot_id=data.get("bot_id"),
            own=bool(data.get("own", False)),
            thread_ts=data.get("thread_ts"),
            after=data.get("after"),
            files=tuple(FileRef.of(f) for f in data.get("files") or () if isinstance(f, dict)),
        )


def order_key(message: StoredMessage) -> tuple[tuple[int, int], int, tuple[int, int]]:
    """Where `message` sorts in its conversation. Answers are posted as placeholders when their
    question arrives, so by ts alone two quick questions would read Q1, Q2, A1, A2; an answer
    recorded `after` its question reads Q1, A1, Q2, A2 (answers to one question by their ts)."""
    if message.after is None:
        return ts_key(message.ts), 0, (0, 0)
    return ts_key(message.after), 1, ts_key(message.ts)


class AnswerKind(StrEnum):
    """What an answer is, and so how Regenerate replays it."""

    CHAT = "chat"
    SUMMARY = "summary"
    RECAP = "recap"
    ASK = "ask"


@dataclass(frozen=True, slots=True)
class ChatReplay:
    conversation: Conversation
    message: StoredMessage
    reply_thread_ts: str | None


@dataclass(frozen=True, slots=True)
class SummaryReplay:
    channel: str  # the thread summarized
    thread_ts: str
    reply_channel: str  # where the summary was posted
    reply_thread_ts: str


@dataclass(frozen=True, slots=True)
class RecapReplay:
    channel: str  # the channel recapped
    since: str
    reply_channel: str
    reply_thread_ts: str | None


@dataclass(frozen=True, slots=True)
class AskReplay:
    question_ts: str  # the posted question, whose thread holds the answer
    text: str
    asker_name: str


Replay = ChatReplay | SummaryReplay | RecapReplay | AskReplay

_KINDS: dict[type, AnswerKind] = {
    ChatReplay: AnswerKind.CHAT,
    SummaryReplay: AnswerKind.SUMMARY,
    RecapReplay: AnswerKind.RECAP,
    AskReplay: AnswerKind.ASK,
}


def kind_of(replay: Replay) -> AnswerKind:
    return _KINDS[type(replay)]


def replay_to_json(replay: Replay) -> dict[str, Any]:
    if isinstance(replay, ChatReplay):
        conv = replay.conversation
        return {
            "kind": AnswerKind.CHAT.value,
            "conversation": [conv.team, conv.channel, conv.thread_ts],
            "message": replay.message.dumps(),
            "reply_thread_ts": replay.reply_thread_ts,
        }
    return {"kind": kind_of(replay).value, **asdict(replay)}


def replay_from_json(data: Mapping[str, Any]) -> Replay:
    """The replay a record holds; raises KeyError/ValueError/TypeError on a malformed one."""
    kind = AnswerKind(data["kind"])
    fields = {k: v for k, v in data.items() if k != "kind"}
    if kind is AnswerKind.CHAT:
        team, channel, thread_ts = fields["conversation"]
        return ChatReplay(
            Conversation(str(team), str(channel), thread_ts),
            StoredMessage.loads(str(fields["message"])),
            fields.get("reply_thread_ts"),
        )
    if kind is AnswerKind.SUMMARY:
        return SummaryReplay(**fields)
    if kind is AnswerKind.RECAP:
        return RecapReplay(**fields)
    return AskReplay(**fields)


PRIVATE_ASK_TEXT = 1500  # of the question carried by the button (its value holds 2,000 at most)


@dataclass(frozen=True, slots=True)
class PrivateAsk:
    """A question answered in a channel without some threads only its asker may see: what the
    "Answer me privately" button carries, so the answer in the asker's DM can use them."""

    team: str
    channel: str  # where it was asked
    ts: str  # the question's ts (one private answer per question and person)
    text: str

    def to_value(self) -> str:
        text = self.text[:PRIVATE_ASK_TEXT]
        return json.dumps([self.team, self.channel, self.ts, text], ensure_ascii=False)

    @classmethod
    def from_value(cls, value: str) -> PrivateAsk | None:
        try:
            team, channel, ts, text = json.loads(value)
        except (ValueError, TypeError):
            return None
        if not all(isinstance(v, str) for v in (team, channel, ts, text)):
            return None
        return cls(team, channel, ts, text)
