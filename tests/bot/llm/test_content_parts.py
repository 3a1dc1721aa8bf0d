"""A user turn as OpenAI content parts (text and images) goes to the fake RelayDance as sent."""

from __future__ import annotations

import pytest

from bot.errors import UpstreamBadRequest
from bot.llm.client import ChatRequest, RelayDanceClient
from tests.bot.llm.helpers import MODEL, collect, collect_until_error, text_of
from tests.fakes.relaydance import FakeRelayDance, Script

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}


async def test_a_user_turn_of_parts_is_sent_and_read_by_its_text(
    fake: FakeRelayDance, client: RelayDanceClient
) -> None:
    fake.push(Script.echo())
    parts = [{"type": "text", "text": "what is this?"}, IMAGE]
    request = ChatRequest(model=MODEL, messages=[{"role": "user", "content": parts}])

    deltas = await collect(client, request)

    assert fake.requests[0].json["messages"] == [{"role": "user", "content": parts}]
    assert "what is this?" in text_of(deltas)


@pytest.mark.parametrize(
    "content",
    [[], [{"type": "image_url", "image_url": "data:x"}], [{"type": "audio"}], ["text"]],
    ids=["empty", "url-not-object", "unknown-part", "bare-string"],
)
async def test_malformed_parts_are_refused_as_openai_refuses_them(
    client: RelayDanceClient, content: list[object]
) -> None:
    request = ChatRequest(model=MODEL, messages=[{"role": "user", "content": content}])
    _, error = await collect_until_error(client, request)
    assert isinstance(error, UpstreamBadRequest)
    assert "content part" in error.detail
