"""FakeSlack's native streaming answers slack_sdk's chat_*Stream calls the way Slack's reference says."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import FakeSlack

FEEDBACK = {
    "type": "context_actions",
    "elements": [
        {
            "type": "feedback_buttons",
            "action_id": "fb",
            "positive_button": {"text": {"type": "plain_text", "text": "👍"}, "value": "up"},
            "negative_button": {"text": {"type": "plain_text", "text": "👎"}, "value": "down"},
        }
    ],
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel("C1", name="general")
        fake.add_channel("D1", user="U1")
        yield fake


@pytest.fixture
async def client(fake: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=fake.bot_token, base_url=fake.api_url, session=session)


async def start(client: AsyncWebClient, text: str = "Hel") -> str:
    root = "1700000000.000100"
    response = await client.chat_startStream(
        channel="C1", thread_ts=root, markdown_text=text, recipient_team_id="T1", recipient_user_id="U1"
    )
    return str(response["ts"])


async def test_a_stream_shows_its_text_as_it_grows_and_ends_with_blocks(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    ts = await start(client)
    await client.chat_appendStream(channel="C1", ts=ts, markdown_text="lo **world**")
    await client.chat_appendStream(channel="C1", ts=ts, chunks=[{"type": "markdown_text", "text": "!"}])
    assert fake.message("C1", ts)["text"] == "Hello **world**!"
    await client.chat_stopStream(channel="C1", ts=ts, markdown_text="\n\nend", blocks=[FEEDBACK])
    message = fake.message("C1", ts)
    assert message["text"] == "Hello **world**!\n\nend"
    assert message["blocks"] == [{"type": "markdown", "text": "Hello **world**!\n\nend"}, FEEDBACK]
    assert message["thread_ts"] == "1700000000.000100"
    with pytest.raises(SlackApiError) as stopped:
        await client.chat_appendStream(channel="C1", ts=ts, markdown_text="more")
    assert stopped.value.response["error"] == "message_not_in_streaming_state"


async def test_a_channel_stream_needs_its_recipient_but_a_dm_does_not(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as missing:
        await client.chat_startStream(
            channel="C1", thread_ts="1.2", markdown_text="x", recipient_team_id="T1"
        )
    assert missing.value.response["error"] == "missing_recipient_user_id"
    with pytest.raises(SlackApiError) as team:
        await client.chat_startStream(channel="C1", thread_ts="1.2", markdown_text="x")
    assert team.value.response["error"] == "missing_recipient_team_id"
    assert (await client.chat_startStream(channel="D1", thread_ts="1.2", markdown_text="x"))["ok"]


async def test_updating_a_streaming_message_conflicts_until_it_stops(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    ts = await start(client)
    with pytest.raises(SlackApiError) as conflict:
        await client.chat_update(channel="C1", ts=ts, text="edited")
    assert conflict.value.response["error"] == "streaming_state_conflict"
    await client.chat_stopStream(channel="C1", ts=ts)
    await client.chat_update(channel="C1", ts=ts, text="edited")
    assert fake.message("C1", ts)["text"] == "edited"


async def test_slack_closes_old_and_idle_streams(fake: FakeSlack, client: AsyncWebClient) -> None:
    now = [0.0]
    fake.streams.clock = lambda: now[0]
    fake.streams.idle = 10.0
    ts = await start(client)
    now[0] = 9.0
    await client.chat_appendStream(channel="C1", ts=ts, markdown_text="lo")  # not idle yet
    now[0] = 19.5
    with pytest.raises(SlackApiError) as idle:
        await client.chat_appendStream(channel="C1", ts=ts, markdown_text="!")
    assert idle.value.response["error"] == "message_not_in_streaming_state"
    assert fake.message("C1", ts)["text"] == "Hello"  # what was streamed stays; the stream can be edited
    await client.chat_update(channel="C1", ts=ts, text="Hello!")

    fake.streams.idle = None
    fake.streams.max_age = 30.0
    ts = await start(client)
    now[0] = 49.0
    await client.chat_appendStream(channel="C1", ts=ts, markdown_text="x")
    now[0] = 50.0
    with pytest.raises(SlackApiError) as old:
        await client.chat_appendStream(channel="C1", ts=ts, markdown_text="y")  # appends do not extend it
    assert old.value.response["error"] == "message_not_in_streaming_state"


@pytest.mark.parametrize(
    ("chunks", "error"),
    [
        ([{"type": "poem"}], "invalid_chunks"),
        ([{"type": "task_update", "id": "1", "title": "Search", "status": "sleeping"}], "invalid_chunks"),
        ([{"type": "plan_update"}], "invalid_chunks"),
        ([{"type": "markdown_text", "text": "x" * 12_001}], "msg_too_long"),
        ([], "no_text"),
    ],
)
async def test_appends_are_validated(
    client: AsyncWebClient, chunks: list[dict[str, object]], error: str
) -> None:
    ts = await start(client)
    with pytest.raises(SlackApiError) as refused:
        await client.chat_appendStream(channel="C1", ts=ts, chunks=chunks)
    assert refused.value.response["error"] == error


async def test_progress_chunks_are_kept_with_the_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    ts = await start(client)
    task = {"type": "task_update", "id": "s1", "title": "Searching", "status": "in_progress"}
    await client.chat_appendStream(
        channel="C1", ts=ts, chunks=[task, {"type": "plan_update", "title": "Plan"}]
    )
    assert fake.message("C1", ts)["chunks"] == [task, {"type": "plan_update", "title": "Plan"}]


async def test_a_stream_in_a_channel_without_the_bot_is_refused(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.add_channel("C2", bot_member=False)
    with pytest.raises(SlackApiError) as refused:
        await client.chat_startStream(
            channel="C2", thread_ts="1.2", markdown_text="x", recipient_team_id="T1", recipient_user_id="U1"
        )
    assert refused.value.response["error"] == "not_in_channel"
    with pytest.raises(SlackApiError) as other:
        await client.chat_appendStream(channel="C1", ts="1.999", markdown_text="x")
    assert other.value.response["error"] == "message_not_found"
