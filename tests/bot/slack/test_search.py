"""Slack's Real-time Search adapter against the fake Slack: which channel types the scopes allow,
results placed in their threads, and every way it gives up (no token, a lasting refusal that turns
it off for a while, a slow answer)."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.search import OFF_SECONDS, SlackSearch, parse_results, thread_of
from tests.fakes.slack import GRANTED_SCOPES, FakeSlack

TOKEN = "1.2.tok"
PUBLIC = ("search:read.public",)


@pytest.mark.parametrize(
    ("permalink", "thread"),
    [
        (
            "https://x.slack.com/archives/C1/p1763000100000200?thread_ts=1763000000.000100&cid=C1",
            "1763000000.000100",
        ),
        ("https://x.slack.com/archives/C1/p1763000100000200", "1763000100.000200"),
        ("", "1763000100.000200"),
        ("not a link?thread_ts=", "1763000100.000200"),
    ],
)
def test_a_result_s_thread_comes_from_its_permalink(permalink: str, thread: str) -> None:
    assert thread_of("1763000100.000200", permalink) == thread


def test_malformed_results_are_skipped() -> None:
    body = {
        "results": {
            "messages": [
                "nonsense",
                {"channel_id": "C1"},
                {"channel_id": "C1", "message_ts": "1.2", "content": "hi", "author_user_id": "U1"},
            ]
        }
    }
    [only] = parse_results(body)
    assert (only.channel, only.thread_ts, only.author, only.text) == ("C1", "1.2", "U1", "hi")
    assert parse_results({}) == [] and parse_results({"results": None}) == []


def test_channel_types_follow_the_scopes() -> None:
    client = AsyncWebClient(token="x")
    assert SlackSearch(client, scopes=lambda: ()).channel_types == []
    assert SlackSearch(client, scopes=lambda: ("search:read.im", "search:read.public")).channel_types == [
        "public_channel",
        "im",
    ]
    assert not SlackSearch(client, scopes=lambda: PUBLIC).usable(None)


async def test_results_as_the_asker_sees_them(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.scopes = f"{GRANTED_SCOPES},search:read.public"
    slack.action_tokens[TOKEN] = "U1"
    slack.add_channel("C2", name="ops")
    slack.seed_message("C2", "deploys freeze on fridays", "U2", ts="1763000000.000100")
    slack.seed_message(
        "C2", "the freeze starts at noon", "U1", ts="1763000100.000200", thread_ts="1763000000.000100"
    )
    found = await SlackSearch(client, scopes=lambda: PUBLIC).search("when is the deploy freeze?", TOKEN)
    assert {(r.channel, r.thread_ts, r.ts) for r in found} == {
        ("C2", "1763000000.000100", "1763000000.000100"),
        ("C2", "1763000000.000100", "1763000100.000200"),
    }
    assert await SlackSearch(client, scopes=lambda: PUBLIC).search("   ", TOKEN) == []


async def test_a_lasting_refusal_turns_it_off_for_a_while(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.action_tokens[TOKEN] = "U1"  # the scope itself is not granted: missing_scope
    now = [1000.0]
    search = SlackSearch(client, scopes=lambda: PUBLIC, clock=lambda: now[0])
    assert await search.search("freeze", TOKEN) == []
    assert [c.response["error"] for c in slack.calls_to("assistant.search.context")] == ["missing_scope"]
    assert await search.search("freeze", TOKEN) == [] and not search.usable(TOKEN)
    assert len(slack.calls_to("assistant.search.context")) == 1
    now[0] += OFF_SECONDS
    assert search.usable(TOKEN)


async def test_a_slow_answer_is_given_up(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.scopes = f"{GRANTED_SCOPES},search:read.public"
    slack.action_tokens[TOKEN] = "U1"
    slack.latency = 0.3
    search = SlackSearch(client, scopes=lambda: PUBLIC, timeout_seconds=0.05)
    assert await search.search("freeze", TOKEN) == []
    assert search.usable(TOKEN)  # a slow answer does not turn it off
