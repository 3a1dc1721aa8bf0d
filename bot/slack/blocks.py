"""Block Kit for answer messages: the answer's sections and the buttons under it.

Pure builders: no I/O, plain dicts out. The action IDs are module constants so the handlers that
register listeners and the tests that send payloads use the same strings. The App Home tab and the
settings modal are in `bot.slack.views`, which builds on the element helpers here.

Slack's limits that shape these builders (Block Kit reference):

- a message holds at most 50 blocks;
- a `section`'s text is 1 to 3,000 characters, a `context` holds up to 10 elements;
- a button's text is up to 75 characters, its `action_id` 255, its `value` 2,000.

A section with long text may be shown folded behind "See more"; answer sections set `expand` so
the whole answer shows at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TypeAlias

from bot.text.splitting import split_mrkdwn

__all__ = [
    "ACTION_FEEDBACK",
    "ACTION_FEEDBACK_DOWN",
    "ACTION_FEEDBACK_UP",
    "ACTION_PRIVATE_ANSWER",
    "ACTION_REGENERATE",
    "ACTION_STOP",
    "MESSAGE_TEXT_LIMIT",
    "SECTION_TEXT_LIMIT",
    "SHORTCUT_SUMMARIZE",
    "Block",
    "button",
    "final_controls",
    "message_blocks",
    "native_final_controls",
    "mrkdwn_text",
    "plain_text",
    "private_offer_blocks",
    "streaming_controls",
]

Block: TypeAlias = dict[str, Any]
"""One Block Kit block (or a whole view) as the JSON Slack takes."""

# -- IDs shared with the handlers ------------------------------------------------------------------

ACTION_STOP: Final = "answer_stop"
ACTION_REGENERATE: Final = "answer_regenerate"
ACTION_FEEDBACK_UP: Final = "answer_feedback_up"
ACTION_FEEDBACK_DOWN: Final = "answer_feedback_down"
ACTION_PRIVATE_ANSWER: Final = "knowledge_private_answer"
ACTION_FEEDBACK: Final = "answer_feedback"  # Slack's feedback_buttons: value "up:<answer id>" / "down:…"
SHORTCUT_SUMMARIZE: Final = "summarize_thread"

# -- Limits ------------------------------------------------------------------------------------------

MESSAGE_TEXT_LIMIT: Final = 4000
"""Longest text `message_blocks` takes: what `chat.update` accepts, so one message's worth."""
SECTION_TEXT_LIMIT: Final = 3000
_MESSAGE_BLOCKS_MAX: Final = 50


# -- Answer messages ---------------------------------------------------------------------------------


def message_blocks(text: str, controls: Sequence[Block] | None = None) -> list[Block]:
    """An answer message: `text` (rendered mrkdwn) in one or two sections, then `controls`.

    `text` is at most `MESSAGE_TEXT_LIMIT` characters (split longer answers into messages first);
    it is cut into sections of at most `SECTION_TEXT_LIMIT` at a paragraph or line boundary, code
    blocks closed and reopened across the cut. Blank text gives no section (Slack refuses an empty
    one), so a message can be controls only.
    """
    if len(text) > MESSAGE_TEXT_LIMIT:
        raise ValueError(f"message text is {len(text)} characters; at most {MESSAGE_TEXT_LIMIT} fit")
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn_text(chunk), "expand": True}
        for chunk in split_mrkdwn(text, SECTION_TEXT_LIMIT)
        if chunk.strip()
    ]
    blocks.extend(controls or ())
    if len(blocks) > _MESSAGE_BLOCKS_MAX:
        raise ValueError(f"{len(blocks)} blocks; a message holds at most {_MESSAGE_BLOCKS_MAX}")
    return blocks


def streaming_controls(answer_id: str) -> list[Block]:
    """Shown while an answer streams: a Stop button carrying the answer's id."""
    return [{"type": "actions", "elements": [button("Stop", ACTION_STOP, answer_id, style="danger")]}]


def final_controls(answer_id: str, *, feedback: str | None = None) -> list[Block]:
    """Shown under a finished answer: Regenerate, and 👍 / 👎 until someone has voted.

    With `feedback` ("up" or "down") the thumbs give way to a short thank-you; Regenerate stays.
    """
    if feedback not in (None, "up", "down"):
        raise ValueError(f'feedback must be None, "up" or "down", not {feedback!r}')
    regenerate = button("Regenerate", ACTION_REGENERATE, answer_id)
    if feedback is None:
        thumbs = [
            button("👍", ACTION_FEEDBACK_UP, answer_id, label="Good answer"),
            button("👎", ACTION_FEEDBACK_DOWN, answer_id, label="Bad answer"),
        ]
        return [{"type": "actions", "elements": [regenerate, *thumbs]}]
    vote = "👍" if feedback == "up" else "👎"
    return [
        {"type": "actions", "elements": [regenerate]},
        {"type": "context", "elements": [mrkdwn_text(f"{vote} Thanks for the feedback")]},
    ]


def private_offer_blocks(note: str, value: str) -> list[Block]:
    """The private note that more was found than an answer in a channel may use, with the button
    that asks for an answer in the asker's DM (`value`: what that answer needs, 2,000 at most)."""
    offer = button("Answer me privately", ACTION_PRIVATE_ANSWER, value, style="primary")
    return [
        {"type": "section", "text": mrkdwn_text(note)},
        {"type": "actions", "elements": [offer]},
    ]


def native_final_controls(answer_id: str) -> list[Block]:
    """Under an answer that ended a native stream (chat.stopStream's blocks): Regenerate, and
    Slack's own feedback buttons (a `feedback_buttons` element in a `context_actions` block)."""
    regenerate = button("Regenerate", ACTION_REGENERATE, answer_id)
    feedback = {
        "type": "feedback_buttons",
        "action_id": ACTION_FEEDBACK,
        "positive_button": {
            "text": plain_text("👍"),
            "value": f"up:{answer_id}",
            "accessibility_label": "Good answer",
        },
        "negative_button": {
            "text": plain_text("👎"),
            "value": f"down:{answer_id}",
            "accessibility_label": "Bad answer",
        },
    }
    return [
        {"type": "actions", "elements": [regenerate]},
        {"type": "context_actions", "elements": [feedback]},
    ]


# -- Elements ----------------------------------------------------------------------------------------


def plain_text(text: str) -> Block:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn_text(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def button(
    text: str, action_id: str, value: str, *, style: str | None = None, label: str | None = None
) -> Block:
    element: Block = {"type": "button", "text": plain_text(text), "action_id": action_id, "value": value}
    if style is not None:
        element["style"] = style
    if label is not None:
        element["accessibility_label"] = label
    return element
