"""What the RelayDanceClient tests share: the request they send and ways to read an answer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.errors import UpstreamError
from bot.llm.client import ChatDelta, ChatRequest, RelayDanceClient

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


def text_of(deltas: list[ChatDelta]) -> str:
    return "".join(delta.text for delta in deltas)
