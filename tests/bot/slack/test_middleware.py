"""Global middleware without argument injection, and the Assistant consulted only for its events,
run through a real Bolt app's dispatch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.slack.middleware import AssistantEvents, Next, Plain, is_assistant_candidate
from tests.fakes.signing import app_mention, event_callback, sign

SECRET = "middleware-secret"


def _app() -> AsyncApp:
    async def authorize() -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=None, team_id="T1", bot_user_id="UBOT", bot_id="B1", bot_token="xoxb-1"
        )

    return AsyncApp(signing_secret=SECRET, authorize=authorize, process_before_response=True)


def _request(body: dict[str, Any]) -> AsyncBoltRequest:
    raw = json.dumps(body)
    headers = {k.lower(): v for k, v in {**sign(SECRET, raw), "Content-Type": "application/json"}.items()}
    return AsyncBoltRequest(body=raw, headers=headers)


def _dm(**fields: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": "D1",
        "channel_type": "im",
        "user": "U1",
        "text": "hi",
        "ts": "2.0",
        **fields,
    }


@pytest.mark.parametrize(
    ("event", "candidate"),
    [
        ({"type": "assistant_thread_started", "assistant_thread": {}}, True),
        ({"type": "assistant_thread_context_changed", "assistant_thread": {}}, True),
        (_dm(thread_ts="1.0"), True),
        # The Assistant acknowledges edits in its threads; a top-level DM is not its own.
        (_dm(subtype="message_changed", message={"ts": "1.5", "thread_ts": "1.0", "text": "edited"}), True),
        (_dm(), False),
        ({"type": "message", "channel": "C1", "channel_type": "channel", "text": "hi", "ts": "2.0"}, False),
        ({"type": "app_mention", "channel": "C1", "text": "<@UBOT> hi", "ts": "2.0"}, False),
        ({"type": "app_home_opened", "tab": "messages"}, False),
    ],
)
def test_which_events_the_assistant_is_consulted_for(event: dict[str, Any], candidate: bool) -> None:
    assert is_assistant_candidate(event_callback(event)) is candidate


def test_what_is_not_an_event_is_no_candidate() -> None:
    assert not is_assistant_candidate({"type": "block_actions", "event": {"type": "message"}})
    assert not is_assistant_candidate({"type": "event_callback", "event": None})
    assert not is_assistant_candidate(None)


async def test_plain_middleware_sees_the_request_and_can_end_the_chain() -> None:
    app = _app()
    seen: list[str] = []

    async def note(req: AsyncBoltRequest, next: Next) -> None:  # noqa: A002
        seen.append(str(req.body["event"]["type"]))
        assert req.context.team_id == "T1"  # after Bolt's own middleware: authorized
        await next()

    async def refuse(req: AsyncBoltRequest, next: Next) -> BoltResponse | None:  # noqa: A002
        if req.body["event"].get("text") == "refuse":
            return BoltResponse(status=200, body="refused")
        await next()
        return None

    app.use(Plain(note))
    app.use(Plain(refuse))
    handled: list[str] = []

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any]) -> None:
        handled.append(event["text"])

    ok = await app.async_dispatch(
        _request(event_callback(app_mention(text="hello", user="U1", channel="C1")))
    )
    no = await app.async_dispatch(
        _request(event_callback(app_mention(text="refuse", user="U1", channel="C1")))
    )
    assert (ok.status, no.status, no.body) == (200, 200, "refused")
    assert seen == ["app_mention", "app_mention"]
    assert handled == ["hello"]
    assert Plain(note).name == f"Plain({note.__qualname__})"


class CountingAssistant(AsyncAssistant):
    """Bolt's Assistant, counting the requests it is consulted on (each runs its matchers)."""

    def __init__(self) -> None:
        super().__init__()
        self.consulted: list[str] = []

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Next
    ) -> BoltResponse | None:  # noqa: A002
        self.consulted.append(str(req.body["event"]["type"]))
        return await super().async_process(req=req, resp=resp, next=next)


async def test_the_assistant_answers_its_events_and_never_sees_a_mention() -> None:
    app = _app()
    assistant = CountingAssistant()
    started: list[str] = []

    @assistant.thread_started
    async def on_started(payload: dict[str, Any]) -> None:
        started.append(payload["assistant_thread"]["channel_id"])

    app.use(AssistantEvents(assistant))
    mentions: list[str] = []

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any]) -> None:
        mentions.append(event["text"])

    thread = {
        "type": "assistant_thread_started",
        "assistant_thread": {"channel_id": "D1", "thread_ts": "1.0", "user_id": "U1", "context": {}},
    }
    await app.async_dispatch(_request(event_callback(thread)))
    await app.async_dispatch(_request(event_callback(app_mention(text="hello", user="U1", channel="C1"))))
    assert started == ["D1"]
    assert mentions == ["hello"]
    assert assistant.consulted == ["assistant_thread_started"]  # the mention went straight on
    assert AssistantEvents(assistant).name.startswith("AssistantEvents(")
