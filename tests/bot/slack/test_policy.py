"""Allow and block lists: unset means everyone, blocked always loses, DMs follow the user lists."""

from __future__ import annotations

import pytest

from bot.slack.policy import NOT_FOR_YOU, NOT_IN_THIS_DM, Policy


def test_unset_lists_let_everyone_in_everywhere() -> None:
    policy = Policy()
    assert policy.refusal("C1", "U1") is None and policy.refusal("D1", "U1") is None


@pytest.mark.parametrize(
    ("policy", "channel", "user", "refused"),
    [
        (Policy.of(blocked_users=["U2"]), "C1", "U2", NOT_FOR_YOU),
        (Policy.of(blocked_users=["U2"]), "D1", "U2", NOT_FOR_YOU),
        (Policy.of(blocked_users=["U2"]), "C1", "U1", None),
        (Policy.of(allowed_users=["U1"]), "C1", "U2", NOT_FOR_YOU),
        (Policy.of(allowed_users=["U1"], blocked_users=["U1"]), "C1", "U1", NOT_FOR_YOU),
        (Policy.of(blocked_channels=["C9"]), "C9", "U1", "I'm not enabled in <#C9>."),
        (Policy.of(allowed_channels=["C1"]), "C2", "U1", "I'm not enabled in <#C2>."),
        (Policy.of(allowed_channels=["C1"]), "C1", "U1", None),
        (Policy.of(allowed_channels=["C1"]), "D7", "U1", None),  # DMs follow the user lists
        (Policy.of(blocked_channels=["D7"]), "D7", "U1", NOT_IN_THIS_DM),
        (Policy.of(allowed_users=["U1"]), "C1", None, None),  # another app's message: channel only
        (Policy.of(blocked_channels=["C9"]), "C9", None, "I'm not enabled in <#C9>."),
    ],
)
def test_refusals(policy: Policy, channel: str, user: str | None, refused: str | None) -> None:
    found = policy.refusal(channel, user)
    if refused is None:
        assert found is None
    else:
        assert found is not None and found.startswith(refused)
