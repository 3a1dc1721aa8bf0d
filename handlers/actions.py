"""Buttons on answers: Stop while streaming; Regenerate and 👍/👎 once done."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.core import jobs
from bot.core.deps import Deps
from bot.slack.blocks import ACTION_FEEDBACK_DOWN, ACTION_FEEDBACK_UP, ACTION_REGENERATE, ACTION_STOP


def register(app: AsyncApp, deps: Deps) -> None:
    async def tell(body: dict[str, Any], text: str) -> None:
        """A private note to whoever pressed the button."""
        channel = (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        if not channel:
            return
        try:
            await deps.slack.chat_postEphemeral(
                channel=channel, user=body["user"]["id"], text=text, thread_ts=message.get("thread_ts")
            )
        except SlackApiError:
            pass

    async def on_stop(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = body["user"]["id"]
        answerer = deps.answerer
        outcome = answerer.stop(str(action["value"]), user, is_admin=False)
        if outcome == "not_allowed" and await deps.names.is_admin(user):
            outcome = answerer.stop(str(action["value"]), user, is_admin=True)
        if outcome == "not_allowed":
            await tell(body, "Only the person who asked, or an admin, can stop this answer.")

    async def on_regenerate(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        record = await deps.records.answer(str(action["value"]))
        if record is None or not jobs.replay(deps, record, body["user"]["id"]):
            await tell(body, "I can't regenerate this answer any more (it is too old).")

    async def on_feedback(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        record = await deps.records.answer(str(action["value"]))
        if record is None:
            await tell(body, "Thanks, but this answer is too old to rate.")
            return
        vote = "up" if action["action_id"] == ACTION_FEEDBACK_UP else "down"
        await deps.records.vote(record, body["user"]["id"], vote)
        await tell(body, "Thanks for the feedback!")

    app.action(ACTION_STOP)(on_stop)
    app.action(ACTION_REGENERATE)(on_regenerate)
    app.action(ACTION_FEEDBACK_UP)(on_feedback)
    app.action(ACTION_FEEDBACK_DOWN)(on_feedback)
