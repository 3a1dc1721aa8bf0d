"""Two replicas on one Redis spend one Slack budget: together they stay under the workspace's limit."""

from __future__ import annotations

import asyncio

from tests.e2e_harness import bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention
from tests.fakes.slack import FakeSlack

# At most 3 edits in any 2 s for the whole workspace, 2 at once. Slack here allows 5 in 2 s: one
# replica's own budget fits, two unshared ones (6 in 2 s) would not.
RATE = (3.0, 2.0, 2.0)


async def test_two_replicas_share_the_edit_budget_and_meet_no_429(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    slack.rate_limit("chat.update", 5, 2.0)
    relay.default = Script.stream(["the ", "answer"], pace=0.01)
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, slack_rate_update=RATE)
    async with bot_under_test(slack, relay, settings) as one, bot_under_test(slack, relay, settings) as two:
        mentions = [app_mention(text=f"<@UBOT> question {i}", user="U1") for i in range(4)]
        await asyncio.gather(*(bot.send(m) for bot, m in zip([one, two, one, two], mentions, strict=True)))
        await asyncio.gather(one.answered(2, timeout=20), two.answered(2, timeout=20))
        for mention in mentions:
            replies = [m for m in slack.thread_messages("C1", mention["ts"]) if m.get("user") == "UBOT"]
            assert [r["text"] for r in replies] == ["the answer"]
    updates = slack.calls_to("chat.update")
    assert [c for c in updates if c.status == 429] == []
    assert len(updates) >= 4  # at least each answer's final edit (with its buttons)
    times = [c.received_at for c in updates]
    busiest = max(sum(1 for t in times if start <= t < start + 2.0) for start in times)
    assert busiest <= 3  # the shared budget's window; two budgets of their own would make 4 at once
