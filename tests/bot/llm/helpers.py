"""What the RelayDanceClient tests share: the request they send and ways to read an answer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.errors import UpstreamError
from bot.llm.client import ChatDelta, ChatRequest, RelayDanceClient
from tests.fakes.relaydance import FakeRelayDance, Script

MODEL = "grok-4.3"
REQUEST = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "say hello"}])

MakeClient = Callable[..., RelayDanceClient]


async def collect(client: RelayDanceClient, request: ChatRequest = REQUEST) -> list[ChatDelta]:
    return [delta async for delta in client.stream_chat(request)]


async def collect_until_error(
    client: RelayDanceClient, request: ChatRequest = REQUEST
) -> tuple[list[ChatDelta], UpstreamError]:
    deltas: list[ChatDelta] = []
    with pytest.raises(UpstreamError) as caught:
        async for delta in client.stream_chat(request):
            deltas.append(delta)
    return deltas, caught.value


async def warm_up(fake: FakeRelayDance, make_client: MakeClient) -> None:
    """One answer over the test's HTTP client, within the usual bounds, before a test that times
    a request in tenths of a second: a new TLS connection's handshake can take longer than that
    under CI's load, and the timed request then reuses the connection."""
    fake.push(Script.stream(["warm"]))
    await collect(make_client())


def text_of(deltas: list[ChatDelta]) -> str:
    return "".join(delta.text for delta in deltas)
