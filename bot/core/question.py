"""A question the bot should answer, where its conversation lives and how to replay it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.model import AnswerKind, ChatReplay, Conversation, Replay, StoredMessage, kind_of
from bot.slack.renderer import Reply
from bot.stores.channel_settings import Effective


@dataclass(frozen=True, slots=True)
class Question:
    conversation: Conversation  # thread (or DM top level) whose history the answer uses
    message: StoredMessage  # the message being answered
    reply_thread_ts: str | None  # thread to post the answer in; None: top level of a DM
    replay: Replay | None = None  # how Regenerate runs it again; None: a chat answer to `message`
    asker: str | None = None  # who may stop it (defaults to the message's author)
    action_token: str | None = None  # from the event: lets Slack's search run as the asker

    @property
    def asked_by(self) -> str | None:
        return self.asker or self.message.user

    @property
    def how_to_replay(self) -> Replay:
        return self.replay or ChatReplay(self.conversation, self.message, self.reply_thread_ts)

    @property
    def kind(self) -> AnswerKind:
        return kind_of(self.how_to_replay)


def thread_question(
    team: str, channel: str, message: StoredMessage, *, in_thread: bool, action_token: str | None = None
) -> Question:
    """A question whose answer goes in a thread: the message's thread, or one rooted at it."""
    if in_thread:
        root = message.thread_ts or message.ts
        conv = Conversation(team, channel, root)
        return Question(conv, message, reply_thread_ts=root, action_token=action_token)
    conv = Conversation(team, channel, None)
    return Question(conv, message, reply_thread_ts=message.thread_ts, action_token=action_token)


# Builds the request's messages once the placeholder is up; may report progress on it (e.g. the
# parts of a long summary) and call RelayDance itself for map-reduce steps. The third argument
# is a token budget that overrides the configured one when smaller (None: the configured one):
# a retry after the model refused the prompt as too long.
PromptBuilder = Callable[[Reply, Effective, int | None], Awaitable[list[dict[str, str]]]]


def within(budget_tokens: int, limit: int | None) -> int:
    """The configured budget, or the retry's limit when that is smaller."""
    return budget_tokens if limit is None else min(budget_tokens, limit)
