"""Build the chat request from a conversation, within a token budget.

Threads outgrow the model's context, so the newest messages win: the question is always sent,
then as many of the messages before it as fit, newest first, and the system prompt says how many
earlier ones were left out (so the model does not claim it saw the whole thread). People's
messages are prefixed with their name, because in a shared thread "I" and "you" only make sense
when the model knows who said what.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "MESSAGE_OVERHEAD_TOKENS",
    "MIN_QUESTION_CHARS",
    "Turn",
    "build_messages",
    "estimate_tokens",
    "omitted_note",
    "trim_middle",
]

CHARS_PER_TOKEN: Final = 4
MESSAGE_OVERHEAD_TOKENS: Final = 4
"""Tokens a chat message costs beyond its text (role and separators), as OpenAI's guide counts."""
MIN_QUESTION_CHARS: Final = 400
"""The question keeps at least this much even when the system prompt alone fills the budget."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the conversation, oldest first in a sequence."""

    role: Literal["user", "assistant"]
    text: str  # already plain (slack_to_plain applied)
    author: str | None = None  # display name for user turns from people; None for assistant


def estimate_tokens(text: str) -> int:
    """Rough token count of one chat message: characters / 4, rounded up, plus the overhead.

    No tokenizer: the model behind RelayDance is configurable and its tokenizer unknown. Four
    characters a token fits English prose and code; it undercounts text in scripts such as
    Chinese or Japanese (about one token a character), so leave headroom in the budget for those.
    """
    return -(-len(text) // CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS


def trim_middle(text: str, max_chars: int) -> str:
    """Shorten `text` to at most `max_chars` by cutting out its middle, and say how much went.

    The middle goes because a long message's beginning (the ask) and end (the detail asked
    about, the last lines of a log) usually matter most. When even the marker does not fit, the
    text is simply cut to `max_chars`.
    """
    if len(text) <= max_chars:
        return text
    if max_chars <= 0:
        return ""
    removed = len(text) - max_chars
    for _ in range(3):  # the marker's length depends on the count it shows; settle it
        marker = _marker(removed)
        kept = max_chars - len(marker)
        if kept < 2:
            return text[:max_chars]
        removed = len(text) - kept
    head = -(-kept // 2)
    tail = kept - head
    return f"{text[:head]}{marker}{text[len(text) - tail :]}"


def _marker(removed: int) -> str:
    return f" [… {removed} characters left out …] "


def omitted_note(count: int) -> str:
    """The sentence appended to the system prompt when earlier messages were left out."""
    if count == 1:
        return "1 earlier message of this conversation was left out to fit the context."
    return f"{count} earlier messages of this conversation were left out to fit the context."


def build_messages(system_prompt: str, turns: Sequence[Turn], *, budget_tokens: int) -> list[dict[str, str]]:
    """The request's messages: the system prompt, then the turns that fit, oldest first.

    The system prompt and the last turn (the question) are always sent; the question is cut in
    the middle (`trim_middle`) when it does not fit beside the system prompt, but never below
    `MIN_QUESTION_CHARS`. Earlier turns are added newest first until the next one does not fit;
    it and everything older are left out and the system prompt gains `omitted_note`. Turns
    whose text is empty or only whitespace are skipped and not counted as left out.
    """
    kept = [turn for turn in turns if turn.text.strip()]
    if not kept:
        return [{"role": "system", "content": system_prompt}]
    *earlier, question = kept
    room = budget_tokens - estimate_tokens(system_prompt)
    if earlier and sum(estimate_tokens(_content(turn)) for turn in kept) > room:
        # Something will be left out: reserve room for the note so adding it stays in budget.
        room -= -(-(len(omitted_note(len(earlier))) + 1) // CHARS_PER_TOKEN)
    question_message = _message(question, room=room)
    room -= estimate_tokens(question_message["content"])
    history: list[dict[str, str]] = []
    for turn in reversed(earlier):
        content = _content(turn)
        cost = estimate_tokens(content)
        if cost > room:
            break
        room -= cost
        history.append({"role": turn.role, "content": content})
    history.reverse()
    left_out = len(earlier) - len(history)
    system = system_prompt
    if left_out:
        system = f"{system_prompt.rstrip()} {omitted_note(left_out)}".lstrip()
    return [{"role": "system", "content": system}, *history, question_message]


def _content(turn: Turn) -> str:
    if turn.role == "user" and turn.author:
        return f"{turn.author}: {turn.text}"
    return turn.text


def _message(turn: Turn, *, room: int) -> dict[str, str]:
    """The question as a message, cut in the middle when it does not fit in `room` tokens."""
    content = _content(turn)
    if estimate_tokens(content) > room:
        prefix = content[: len(content) - len(turn.text)]  # "Alice: ", kept whole
        max_chars = max((room - MESSAGE_OVERHEAD_TOKENS) * CHARS_PER_TOKEN - len(prefix), MIN_QUESTION_CHARS)
        content = prefix + trim_middle(turn.text, max_chars)
    return {"role": turn.role, "content": content}
