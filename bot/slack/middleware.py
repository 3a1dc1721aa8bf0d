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
from slack_bolt.request.payload_utils import (
    is_assistant_event,
    is_other_message_sub_event_in_assistant_thread,
)
from slack_bolt.response import BoltResponse

Next = Callable[[], Awaitable[BoltResponse]]
Step = Callable[[AsyncBoltRequest, Next], Awaitable[BoltResponse | None]]


class Plain(AsyncMiddleware):
    """`step(req, next)` as a global middleware: it reads `req.body` and `req.context` itself,
    returns a response to end the chain there, or awaits `next()` and returns None."""

    def __init__(self, step: Step) -> None:
        self._step = step
        self._name = getattr(step, "__qualname__", repr(step))

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
    """What the Assistant's middleware acts on, by Bolt's own plain predicates (its listeners'
    first matchers, and the thread edits it acknowledges); without the kwargs its matchers build."""
    if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
        return False  # Bolt's predicates index `event` unchecked
    return is_assistant_event(body) or is_other_message_sub_event_in_assistant_thread(body)
