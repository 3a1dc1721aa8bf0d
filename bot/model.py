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

    def dumps(self) -> str:
        return json.dumps(
            {k: v for k, v in asdict(self).items() if v not in (None, False)}, ensure_ascii=False
        )

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
