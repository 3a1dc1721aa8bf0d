"""FakeSlack answers slack_sdk's own clients the way Slack does."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.signing import app_mention, event_callback, sign
from tests.fakes.slack import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel("C1", name="general")
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(fake: FakeSlack, session: aiohttp.ClientSession) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url, session=session)


async def test_post_then_update_edits_the_stored_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    root = fake.seed_message("C1", "question?", "U1")

    posted = await client.chat_postMessage(channel="C1", text="…", thread_ts=root)
    await client.chat_update(channel="C1", ts=posted["ts"], text="the answer")

    assert posted["message"]["thread_ts"] == root
    assert posted["message"]["bot_id"] == fake.bot_id
    assert fake.message("C1", posted["ts"])["text"] == "the answer"
    assert [m["text"] for m in fake.thread_messages("C1", root)] == ["question?", "the answer"]
    assert fake.message("C1", root)["reply_count"] == 1
    update = fake.calls_to("chat.update")[0]
    assert update.content_type == "application/json"
    assert update.headers["Authorization"] == f"Bearer {fake.bot_token}"
    assert update.params == {"channel": "C1", "ts": posted["ts"], "text": "the answer"}


async def test_update_refuses_long_text_and_other_peoples_messages(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    mine = (await client.chat_postMessage(channel="C1", text="start"))["ts"]
    theirs = fake.seed_message("C1", "not yours", "U1")

    with pytest.raises(SlackApiError) as too_long:
        await client.chat_update(channel="C1", ts=mine, text="x" * 4001)
    with pytest.raises(SlackApiError) as not_ours:
        await client.chat_update(channel="C1", ts=theirs, text="edited")
    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel="C1", ts="1.000001", text="edited")

    assert too_long.value.response.status_code == 200
    assert too_long.value.response["error"] == "msg_too_long"
    assert not_ours.value.response["error"] == "cant_update_message"
    assert missing.value.response["error"] == "message_not_found"
    assert fake.message("C1", mine)["text"] == "start"


# Every method that needs the bot in the channel, called on `channel`.
IN_CHANNEL_CALLS: dict[str, Callable[[AsyncWebClient, str], Awaitable[Any]]] = {
    "chat.postMessage": lambda c, channel: c.chat_postMessage(channel=channel, text="hi"),
    "chat.update": lambda c, channel: c.chat_update(channel=channel, ts="1700000000.000100", text="hi"),
    "chat.postEphemeral": lambda c, channel: c.chat_postEphemeral(channel=channel, user="U1", text="hi"),
    "conversations.replies": lambda c, channel: c.conversations_replies(
        channel=channel, ts="1700000000.000100"
    ),
    "conversations.history": lambda c, channel: c.conversations_history(channel=channel),
}


@pytest.mark.parametrize("method", IN_CHANNEL_CALLS)
@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C404", "channel_not_found"),  # nobody created it
        ("C7", "not_in_channel"),  # public, the bot has not joined
        ("G7", "channel_not_found"),  # private without the bot: the bot cannot see it
    ],
)
async def test_channels_the_bot_is_not_in_are_refused_like_slack(
    fake: FakeSlack, client: AsyncWebClient, method: str, channel: str, error: str
) -> None:
    fake.add_channel("C7", name="random", bot_member=False)
    fake.add_channel("G7", name="secret", bot_member=False)

    with pytest.raises(SlackApiError) as refused:
        await IN_CHANNEL_CALLS[method](client, channel)

    assert refused.value.response.status_code == 200
    assert refused.value.response["error"] == error
    assert fake.messages.get(channel, {}) == {} and fake.ephemeral == []  # nothing was stored


async def test_public_channel_without_the_bot_is_listed_as_not_joined(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.add_channel("C7", name="random", bot_member=False)
    fake.add_channel("G7", name="secret", bot_member=False)

    info = (await client.conversations_info(channel="C7"))["channel"]
    with pytest.raises(SlackApiError) as hidden:
        await client.conversations_info(channel="G7")

    assert info["is_member"] is False
    assert hidden.value.response["error"] == "channel_not_found"


@pytest.mark.parametrize("method", IN_CHANNEL_CALLS)
async def test_channels_and_dms_the_bot_is_in_accept_every_call(
    fake: FakeSlack, client: AsyncWebClient, method: str
) -> None:
    fake.add_channel("D1", user="U1")
    fake.add_channel("G1", name="leadership")  # private, the bot in it (the default)

    for channel in ("C1", "D1", "G1"):
        ts = (await client.chat_postMessage(channel=channel, text="mine"))["ts"]
        if method == "chat.update":
            await client.chat_update(channel=channel, ts=ts, text="edited")
        elif method == "conversations.replies":
            await client.conversations_replies(channel=channel, ts=ts)
        else:
            await IN_CHANNEL_CALLS[method](client, channel)

    assert all(c.ok for c in fake.calls)


def test_seeding_a_message_adds_its_channel_with_the_bot_in_it(fake: FakeSlack) -> None:
    fake.seed_message("C9", "earlier", "U1")

    assert fake.channels["C9"]["is_member"] is True


async def test_rate_limit_surfaces_as_429_with_retry_after(fake: FakeSlack, client: AsyncWebClient) -> None:
    ts = (await client.chat_postMessage(channel="C1", text="start"))["ts"]
    fake.fail_next("chat.update", retry_after=7)

    with pytest.raises(SlackApiError) as limited:
        await client.chat_update(channel="C1", ts=ts, text="next")
    await client.chat_update(channel="C1", ts=ts, text="retried")

    response = limited.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response["error"] == "ratelimited"
    assert [c.status for c in fake.calls_to("chat.update")] == [429, 200]


async def test_sliding_window_rate_limit(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.rate_limit("chat.postMessage", calls=2, per_seconds=60)

    await client.chat_postMessage(channel="C1", text="one")
    await client.chat_postMessage(channel="C1", text="two")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="three")

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "60"
    assert len(fake.channel_messages("C1")) == 2


async def test_ordinary_errors_are_http_200(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", error="channel_not_found")

    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel="C1", text="hi")

    assert failed.value.response.status_code == 200
    assert failed.value.response["error"] == "channel_not_found"


async def test_replies_pagination_returns_every_message_once(fake: FakeSlack, client: AsyncWebClient) -> None:
    root = fake.seed_message("C1", "root", "U1")
    replies = [fake.seed_message("C1", f"reply {i}", "U2", thread_ts=root) for i in range(4)]
    fake.seed_message("C1", "unrelated", "U1")

    # slack_sdk's async iteration yields the *same* response object, re-filled per page.
    pages = [
        (page["has_more"], [m["ts"] for m in page["messages"]])
        async for page in await client.conversations_replies(channel="C1", ts=root, limit=2)
    ]

    assert pages == [(True, [root, replies[0]]), (True, replies[1:3]), (False, [replies[3]])]
    assert fake.calls_to("conversations.replies")[0].http_verb == "GET"


async def test_history_is_newest_first_without_thread_replies(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    first = fake.seed_message("C1", "first", "U1")
    fake.seed_message("C1", "in thread", "U2", thread_ts=first)
    second = fake.seed_message("C1", "second", "U1")

    pages = [page["messages"] async for page in await client.conversations_history(channel="C1", limit=1)]

    assert [m["ts"] for messages in pages for m in messages] == [second, first]
    assert pages[1][0]["reply_count"] == 1


async def test_users_info_and_permalink(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_user("U1", "ada", real_name="Ada Lovelace")
    root = fake.seed_message("C1", "root", "U1")
    reply = fake.seed_message("C1", "reply", "U1", thread_ts=root)

    user = (await client.users_info(user="U1"))["user"]
    with pytest.raises(SlackApiError) as unknown:
        await client.users_info(user="U404")
    link = (await client.chat_getPermalink(channel="C1", message_ts=reply))["permalink"]

    assert user["profile"]["display_name"] == "ada"
    assert user["real_name"] == "Ada Lovelace"
    assert unknown.value.response["error"] == "user_not_found"
    assert link == f"https://fake.slack.com/archives/C1/p{reply.replace('.', '')}?thread_ts={root}&cid=C1"


async def test_tokens_are_checked(fake: FakeSlack, session: aiohttp.ClientSession) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url, session=session)
    app = AsyncWebClient(token=fake.app_token, base_url=fake.api_url, session=session)

    with pytest.raises(SlackApiError) as invalid:
        await wrong.auth_test()
    with pytest.raises(SlackApiError) as wrong_type:
        await app.chat_postMessage(channel="C1", text="hi")

    assert invalid.value.response["error"] == "invalid_auth"
    assert wrong_type.value.response["error"] == "not_allowed_token_type"


async def test_wait_for_resolves_when_the_call_arrives(fake: FakeSlack, client: AsyncWebClient) -> None:
    async def post_later() -> None:
        await asyncio.sleep(0.01)
        await client.chat_postMessage(channel="C1", text="late")

    task = asyncio.create_task(post_later())
    calls = await fake.wait_for("chat.postMessage", timeout=2)
    await task

    assert calls[0].params["text"] == "late"
    with pytest.raises(TimeoutError):
        await fake.wait_for("chat.delete", timeout=0.01)


def test_sign_matches_slack_example() -> None:
    secret, body = "8f742231b10e8888abcd99yyyzzz85a5", "token=xyzz0WbapA4vBCDEFasx0q6G"
    expected = hmac.new(secret.encode(), f"v0:1531420618:{body}".encode(), hashlib.sha256).hexdigest()

    headers = sign(secret, body, timestamp=1531420618)

    assert headers == {"X-Slack-Request-Timestamp": "1531420618", "X-Slack-Signature": f"v0={expected}"}


async def test_socket_mode_round_trip(fake: FakeSlack, session: aiohttp.ClientSession) -> None:
    received: asyncio.Queue[SocketModeRequest] = asyncio.Queue()

    async def listener(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        await received.put(request)

    socket_client = SocketModeClient(
        app_token=fake.app_token,
        web_client=AsyncWebClient(base_url=fake.api_url, session=session),
    )
    socket_client.socket_mode_request_listeners.append(listener)
    try:
        await socket_client.connect()  # type: ignore[no-untyped-call]
        await fake.wait_connected()
        body = event_callback(app_mention(text="<@UBOT> hi", channel="C1"))
        envelope_id = await fake.send_envelope("events_api", body)
        ack = await fake.wait_for_ack(envelope_id)
        request = await asyncio.wait_for(received.get(), timeout=2)
    finally:
        await socket_client.close()  # type: ignore[no-untyped-call]

    assert ack == {"envelope_id": envelope_id}
    assert request.type == "events_api"
    assert request.payload == json.loads(json.dumps(body))
    assert request.retry_attempt == 0
    assert fake.socket_messages == [ack]
    opened = fake.calls_to("apps.connections.open")[0]
    assert opened.headers["Authorization"] == f"Bearer {fake.app_token}"
