"""The workspace seam: one client and one identity that answer for the workspace bound to the work
at hand, the binding carried into the tasks that work starts, and nothing bound where none is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from bot.slack import teams
from bot.slack.identity import BotIdentity
from tests.fakes.slack import FakeSlack

ONE = teams.Team(
    "xoxb-team-one", BotIdentity(team_id="T1", user_id="UB1", bot_id="B1", url="https://one.slack.com/")
)
TWO = teams.Team("xoxb-team-two", BotIdentity(team_id="T2", user_id="UB2", bot_id="B2"))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_the_client_carries_the_bound_workspaces_token_into_started_tasks(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    client = teams.TeamClient(token=None, base_url=slack.api_url, session=session)

    async def work_for(team: teams.Team) -> None:
        teams.bind(team)
        # A task started by the work (as an answer's streaming is) keeps the workspace.
        with pytest.raises(SlackApiError):  # tokens the fake never issued: it records them all the same
            await asyncio.create_task(client.api_call("auth.test"))

    await asyncio.gather(work_for(ONE), work_for(TWO))
    assert sorted(str(c.token) for c in slack.calls_to("auth.test")) == ["xoxb-team-one", "xoxb-team-two"]
    assert teams.bound() is None  # each piece of work bound its own copy, not this one
    assert client.token is None


async def test_without_a_binding_the_client_keeps_its_own_token(
    slack: FakeSlack, session: aiohttp.ClientSession
) -> None:
    client = teams.TeamClient(token=slack.bot_token, base_url=slack.api_url, session=session)
    response = await client.auth_test()
    assert response["user_id"] == "UBOT" and slack.calls[-1].token == slack.bot_token


async def test_the_identity_is_the_bound_workspaces_bot() -> None:
    identity = teams.TeamIdentity()

    async def seen(team: teams.Team) -> tuple[str, str, str | None, str, bool, str]:
        teams.bind(team)
        return (
            identity.team_id,
            identity.user_id,
            identity.bot_id,
            identity.url,
            identity.is_self({"user": team.identity.user_id}),
            identity.permalink("C1", "1.000200"),
        )

    assert await asyncio.create_task(seen(ONE)) == (
        "T1",
        "UB1",
        "B1",
        "https://one.slack.com/",
        True,
        "https://one.slack.com/archives/C1/p1000200",
    )
    assert (await asyncio.create_task(seen(TWO)))[:2] == ("T2", "UB2")
    with pytest.raises(teams.NoTeamBound):
        _ = identity.user_id  # OAuth mode, nothing bound: a bug, not some other workspace's bot
    assert teams.TeamIdentity(ONE.identity).user_id == "UB1"  # one workspace: its identity by default
    assert "xoxb" not in repr(ONE)
