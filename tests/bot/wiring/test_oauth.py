"""OAuth installs end to end: the install pages, installations in Redis, each workspace answered
with its own token and bot identity, and an uninstalled workspace no longer answered.

The browser's side is played by the test: `/slack/install` sends it to Slack's authorize page
(the fake's `grant` stands in for the admin approving there), Slack sends it back to
`/slack/oauth_redirect` with a code and the `state`, and the browser still holds the state cookie.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import pytest
import redis.asyncio as aioredis

from bot.settings import Secret, Settings
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, message_event
from tests.fakes.slack import FakeSlack
from tests.fakes.slack.installs import CLIENT_ID, CLIENT_SECRET
from tests.fakes.slack.methods import WebApi

STATE_SECRET = "state-secret-for-the-oauth-tests"
COOKIE = "slack-app-oauth-state"


@dataclass
class Started:
    """An install begun at /slack/install: where the browser was sent, and its state cookie."""

    location: str
    state: str
    cookie: str


def oauth_settings(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, prefix: str, *, bot_token: Secret | None = None
) -> Settings:
    return make_settings(
        slack,
        relay,
        redis_url=redis_url,
        prefix=prefix,
        slack_bot_token=bot_token,
        slack_client_id=CLIENT_ID,
        slack_client_secret=Secret(CLIENT_SECRET),
        slack_state_secret=Secret(STATE_SECRET),
    )


@pytest.fixture
async def multi(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[BotUnderTest]:
    async with bot_under_test(slack, relay, oauth_settings(slack, relay, redis_url, redis_prefix)) as bot:
        yield bot


def team(slack: FakeSlack, team_id: str, bot_user: str) -> WebApi:
    workspace = slack.add_team(team_id, bot_user_id=bot_user, bot_id=f"B{team_id}")
    workspace.add_user("U1", "ada")
    workspace.add_channel("C" + team_id, name=f"general-{team_id.lower()}")
    return workspace


async def start_install(bot: BotUnderTest) -> Started:
    page = await bot.http.get(f"{bot.url}/slack/install", follow_redirects=False)
    assert page.status_code == 302
    cookie = SimpleCookie(page.headers["set-cookie"])[COOKIE].value
    location = page.headers["location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    return Started(location=location, state=state, cookie=cookie)


async def install(bot: BotUnderTest, workspace: WebApi) -> None:
    started = await start_install(bot)
    code = bot.slack.grant(workspace)
    done = await bot.http.get(
        f"{bot.url}/slack/oauth_redirect",
        params={"code": code, "state": started.state},
        headers={"Cookie": f"{COOKIE}={started.cookie}"},
    )
    assert done.status_code == 200, done.text


async def mention(bot: BotUnderTest, workspace: WebApi, text: str) -> str:
    """@-mention the bot in the workspace's channel; returns the mention's ts (the answer's thread)."""
    event = app_mention(
        text=f"<@{workspace.bot_user_id}> {text}", channel="C" + workspace.team_id, team=workspace.team_id
    )
    response = await bot.send(event, team_id=workspace.team_id, bot_user_id=workspace.bot_user_id)
    assert response.status_code == 200
    return str(event["ts"])


async def test_install_sends_the_browser_to_slack_with_a_state_and_the_bot_scopes(
    multi: BotUnderTest, slack: FakeSlack
) -> None:
    started = await start_install(multi)
    url = urlsplit(started.location)
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{slack.base_url}/oauth/v2/authorize"
    assert query["client_id"] == [CLIENT_ID]
    assert "chat:write" in query["scope"][0].split(",") and "app_mentions:read" in query["scope"][0]
    assert started.cookie == started.state
    assert slack.calls == []  # nothing asked of Slack yet


async def test_an_installed_workspace_is_answered_with_its_own_token(
    multi: BotUnderTest,
    slack: FakeSlack,
    relay: FakeRelayDance,
    redis_client: aioredis.Redis,
    redis_prefix: str,
) -> None:
    two = team(slack, "T2", "UB2")
    await install(multi, two)
    assert await redis_client.exists(f"{redis_prefix}:install:-:T2:bot") == 1
    token = slack.token_of("T2")
    exchange = slack.calls_to("oauth.v2.access")
    assert len(exchange) == 1 and exchange[0].ok and exchange[0].token is None  # the client's Basic auth

    relay.push(Script.stream(["Hello ", "from T2."]))
    thread = await mention(multi, two, "hi")
    await multi.answered(1)
    await multi.idle()
    after = [c for c in slack.calls if c.method != "oauth.v2.access"]
    assert after and all(c.token == token and c.team == "T2" for c in after), [
        (c.method, c.team) for c in after
    ]
    replies = two.thread_messages("CT2", thread)
    assert replies[-1]["user"] == "UB2" and "Hello from T2." in replies[-1]["text"]
    assert slack.messages["C1"] == {}  # nothing landed in the first workspace


async def test_a_dm_in_an_installed_workspace_is_answered_with_its_token(
    multi: BotUnderTest, slack: FakeSlack, relay: FakeRelayDance
) -> None:
    two = team(slack, "T2", "UB2")
    two.add_channel("D2", user="U1")
    await install(multi, two)
    relay.push(Script.stream(["Hi in private."]))
    dm = message_event(text="hello bot", user="U1", channel="D2", channel_type="im", team="T2")
    assert (await multi.send(dm, team_id="T2", bot_user_id="UB2")).status_code == 200
    await multi.answered(1)
    await multi.idle()
    answers = [m for m in two.messages["D2"].values() if m.get("user") == "UB2"]
    assert answers and "Hi in private." in answers[-1]["text"]
    assert {c.token for c in slack.calls if c.method != "oauth.v2.access"} == {slack.token_of("T2")}


async def test_two_workspaces_each_get_their_own_token(
    multi: BotUnderTest, slack: FakeSlack, relay: FakeRelayDance
) -> None:
    two, three = team(slack, "T2", "UB2"), team(slack, "T3", "UB3")
    await install(multi, two)
    await install(multi, three)
    # One after the other: two answers at once would take the queued scripts in either order.
    relay.push(Script.stream(["For two."]))
    threads = [await mention(multi, two, "one question")]
    await multi.answered(1)
    relay.push(Script.stream(["For three."]))
    threads.append(await mention(multi, three, "another question"))
    await multi.answered(2)
    await multi.idle()
    for workspace, text, thread in ((two, "For two.", threads[0]), (three, "For three.", threads[1])):
        channel = "C" + workspace.team_id
        last = workspace.thread_messages(channel, thread)[-1]
        assert text in last["text"] and last["user"] == workspace.bot_user_id
        mine = [c for c in slack.calls if c.params.get("channel") == channel]
        assert mine and {c.token for c in mine} == {slack.token_of(workspace.team_id)}


async def test_an_uninstalled_workspace_is_forgotten_and_not_answered(
    multi: BotUnderTest,
    slack: FakeSlack,
    relay: FakeRelayDance,
    redis_client: aioredis.Redis,
    redis_prefix: str,
) -> None:
    two = team(slack, "T2", "UB2")
    await install(multi, two)
    relay.push(Script.stream(["Answered once."]))
    await mention(multi, two, "before")
    await multi.answered(1)
    await multi.idle()

    slack.uninstall("T2")  # Slack revokes the tokens, then tells the app
    uninstalled = await multi.send({"type": "app_uninstalled"}, team_id="T2", bot_user_id="UB2")
    assert uninstalled.status_code == 200
    await multi.idle()
    assert [k async for k in redis_client.scan_iter(match=f"{redis_prefix}:install:*")] == []

    seen = len(slack.calls)
    relay.push(Script.stream(["Must not be sent."]))
    await mention(multi, two, "after")
    await multi.idle()
    assert slack.calls[seen:] == []  # Bolt's authorize found no installation: nothing called
    assert len(relay.requests) == 1  # and RelayDance was not asked again


async def test_revoked_bot_tokens_forget_the_workspace(
    multi: BotUnderTest, slack: FakeSlack, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    two = team(slack, "T2", "UB2")
    await install(multi, two)
    revoked = {"type": "tokens_revoked", "tokens": {"oauth": ["U1"], "bot": ["UB2"]}}
    assert (await multi.send(revoked, team_id="T2", bot_user_id="UB2")).status_code == 200
    await multi.idle()
    assert [k async for k in redis_client.scan_iter(match=f"{redis_prefix}:install:*")] == []


async def test_a_workspace_that_never_installed_is_not_answered(
    multi: BotUnderTest, slack: FakeSlack, relay: FakeRelayDance
) -> None:
    relay.push(Script.stream(["Must not be sent."]))
    response = await multi.send(app_mention(text="<@UBOT> hello"))
    assert response.status_code == 200
    await multi.idle()
    assert slack.calls == [] and relay.requests == []


@pytest.mark.parametrize("case", ["forged state", "no cookie", "replayed state"])
async def test_a_bad_state_gets_an_error_page_and_installs_nothing(
    multi: BotUnderTest, slack: FakeSlack, redis_client: aioredis.Redis, redis_prefix: str, case: str
) -> None:
    two = team(slack, "T2", "UB2")
    started = await start_install(multi)
    if case == "replayed state":
        await install_with(multi, started, slack.grant(two))
    code = slack.grant(two)
    state = "forged.0000" if case == "forged state" else started.state
    headers = {} if case == "no cookie" else {"Cookie": f"{COOKIE}={state}"}
    page = await multi.http.get(
        f"{multi.url}/slack/oauth_redirect", params={"code": code, "state": state}, headers=headers
    )
    assert 400 <= page.status_code < 500
    assert "text/html" in page.headers["content-type"]
    installed = [k async for k in redis_client.scan_iter(match=f"{redis_prefix}:install:*:bot")]
    assert len(installed) == (1 if case == "replayed state" else 0)
    assert len(slack.calls_to("oauth.v2.access")) == (1 if case == "replayed state" else 0)


async def install_with(bot: BotUnderTest, started: Started, code: str) -> None:
    done = await bot.http.get(
        f"{bot.url}/slack/oauth_redirect",
        params={"code": code, "state": started.state},
        headers={"Cookie": f"{COOKIE}={started.cookie}"},
    )
    assert done.status_code == 200


async def test_the_bot_tokens_own_workspace_is_answered_until_it_installs(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = oauth_settings(slack, relay, redis_url, redis_prefix, bot_token=Secret(slack.bot_token))
    async with bot_under_test(slack, relay, settings) as bot:
        relay.push(Script.stream(["Still here."]))
        event = app_mention(text="<@UBOT> hello")
        await bot.send(event)
        await bot.answered(1)
        await bot.idle()
    assert {c.token for c in slack.calls} == {slack.bot_token}
    assert "Still here." in slack.thread_messages("C1", event["ts"])[-1]["text"]


async def test_with_one_workspace_an_uninstall_is_only_logged(
    bot: BotUnderTest, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    started = len(slack.calls)  # auth.test at start-up
    assert (await bot.send({"type": "app_uninstalled"})).status_code == 200
    revoked = {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}
    assert (await bot.send(revoked)).status_code == 200
    await bot.idle()
    assert slack.calls[started:] == []
    assert "uninstalled from workspace T1" in caplog.text and "tokens were revoked" in caplog.text
