"""Buttons on answers: Stop while streaming; Regenerate and 👍/👎 once done; "Answer me
privately" on the note that an answer in a channel left out threads not everyone there may see."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.jobs import Jobs
from bot.core.stop import StopOutcome, StopRegistry
from bot.core.tasks import TaskTracker
from bot.model import PrivateAsk
from bot.slack.access import Access
from bot.slack.blocks import (
    ACTION_FEEDBACK,
    ACTION_FEEDBACK_DOWN,
    ACTION_FEEDBACK_UP,
    ACTION_PRIVATE_ANSWER,
    ACTION_REGENERATE,
    ACTION_STOP,
)
from bot.stores.answers import AnswerRecords
from bot.stores.feedback import Feedback

STOP_NOTES = {
    StopOutcome.NOT_ALLOWED: "Only the person who asked, or an admin, can stop this answer.",
    StopOutcome.NOT_RUNNING: "This answer has already finished.",
    StopOutcome.UNREACHABLE: "I couldn't reach this answer to stop it just now. Try again in a moment.",
}


def register(
    app: AsyncApp,
    *,
    slack: AsyncWebClient,
    stops: StopRegistry,
    answers: AnswerRecords,
    feedback: Feedback,
    jobs: Jobs,
    access: Access,
    tasks: TaskTracker,
) -> None:
    async def tell(body: dict[str, Any], text: str) -> None:
        """A private note to whoever pressed the button."""
        channel = (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        if not channel:
            return
        try:
            await slack.chat_postEphemeral(
                channel=channel, user=body["user"]["id"], text=text, thread_ts=message.get("thread_ts")
            )
        except SlackApiError:
            pass

    async def on_stop(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = body["user"]["id"]
        answer_id = str(action["value"])
        outcome = await stops.stop(answer_id, user, is_admin=False)
        if outcome is StopOutcome.NOT_ALLOWED and await access.is_admin(user):
            outcome = await stops.stop(answer_id, user, is_admin=True)
        if (note := STOP_NOTES.get(outcome)) is not None:
            await tell(body, note)

    async def on_regenerate(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        record = await answers.get(str(action["value"]))
        if record is None:
            await tell(body, "I can't regenerate this answer any more (it is too old).")
            return
        jobs.replay(record, body["user"]["id"])

    async def on_feedback(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        value = str(action["value"])
        if action["action_id"] == ACTION_FEEDBACK:  # Slack's feedback_buttons: "up:<id>" / "down:<id>"
            vote, _, answer_id = value.partition(":")
        else:
            vote, answer_id = ("up" if action["action_id"] == ACTION_FEEDBACK_UP else "down"), value
        record = await answers.get(answer_id)
        if record is None or vote not in ("up", "down"):
            await tell(body, "Thanks, but this answer is too old to rate.")
            return
        await feedback.vote(record, body["user"]["id"], vote)
        await tell(body, "Thanks for the feedback!")

    async def on_private_answer(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Only the asker sees the note; the answer checks what the presser may see anyway."""
        await ack()
        ask = PrivateAsk.from_value(str(action.get("value") or ""))
        if ask is None:
            await tell(body, "I can't answer that privately any more; ask me in our direct messages.")
            return
        jobs.private_answer(ask, body["user"]["id"])

    app.action(ACTION_STOP)(tasks.listener(on_stop))
    app.action(ACTION_PRIVATE_ANSWER)(tasks.listener(on_private_answer))
    app.action(ACTION_REGENERATE)(tasks.listener(on_regenerate))
    app.action(ACTION_FEEDBACK_UP)(tasks.listener(on_feedback))
    app.action(ACTION_FEEDBACK_DOWN)(tasks.listener(on_feedback))
    app.action(ACTION_FEEDBACK)(tasks.listener(on_feedback))
