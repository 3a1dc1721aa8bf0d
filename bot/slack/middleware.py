"""Global Bolt middleware without Bolt's argument injection, and the Assistant's middleware run
only for the events it can handle.

Every request passes every global middleware. A function middleware (`app.use(func)`) costs a
call of `build_async_required_kwargs`, which builds some 30 candidate arguments and parses the
payload eight ways to hand the function the two it names; Bolt's Assistant middleware runs its
listeners' matchers (three more such calls) on every request, an `app_mention` as well. Measured
under cProfile with 1,000 mentions at once: of 1.6 s of the bot's time before the placeholders,
0.45 s went to those calls, 10 per mention.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.middleware.assistant.async_assistant import AsyncAssistant
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

Next = Callable[[], Awaitable[BoltResponse]]
Step = Callable[[AsyncBoltRequest, Next], Awaitable[BoltResponse | None]]

# What the Assistant's listeners match (bolt's `is_assistant_event`, and the message subtypes it
# acknowledges in assistant threads): these two event types, and messages in DMs. Every other
# request (mentions, channel messages, commands, actions) goes straight on.
ASSISTANT_THREAD_EVENTS = frozenset({"assistant_thread_started", "assistant_thread_context_changed"})


class Plain(AsyncMiddleware):
    """`step(req, next)` as a global middleware: it reads `req.body` and `req.context` itself,
    returns a response to end the chain there, or awaits `next()` and returns None."""

    def __init__(self, step: Step, name: str | None = None) -> None:
        self._step = step
        self._name = name or getattr(step, "__qualname__", repr(step))

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Next,  # noqa: A002 - Bolt's keyword
    ) -> BoltResponse | None:
        return await self._step(req, next)

    @property
    def name(self) -> str:
        return f"Plain({self._name})"


class AssistantEvents(AsyncMiddleware):
    """Bolt's Assistant middleware, consulted only for an event it could handle."""

    def __init__(self, assistant: AsyncAssistant) -> None:
        self.assistant = assistant

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Next,  # noqa: A002 - Bolt's keyword
    ) -> BoltResponse | None:
        if is_assistant_candidate(req.body):
            return await self.assistant.async_process(req=req, resp=resp, next=next)
        return await next()

    @property
    def name(self) -> str:
        return f"AssistantEvents({self.assistant.name})"


def is_assistant_candidate(body: object) -> bool:
    """An Events API event the Assistant's listeners may match."""
    if not isinstance(body, dict) or body.get("type") != "event_callback":
        return False
    event = body.get("event")
    if not isinstance(event, dict):
        return False
    kind = event.get("type")
    return kind in ASSISTANT_THREAD_EVENTS or (kind == "message" and event.get("channel_type") == "im")
