"""The bucket rules on a fake clock: bursts, refill, holds and lowered rates after a 429, probing up."""

from __future__ import annotations

import pytest

from bot.text import rates
from bot.text.rates import UPDATE, Bucket, LocalBuckets, Tier


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


KEY = ("T1", UPDATE, "")
BURST_OF_3 = Tier(10, 10, 3)  # one a second; a window no longer than SPREAD: no faster refill


def buckets(tier: Tier = BURST_OF_3) -> tuple[LocalBuckets, Clock]:
    clock = Clock()
    return LocalBuckets(tiers={UPDATE: tier}, clock=clock), clock


def test_a_burst_is_granted_then_the_rate_paces_the_rest() -> None:
    b, clock = buckets()
    assert [b.take(KEY) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take(KEY) == pytest.approx(1.0)  # one per second refills
    clock.now += 0.5
    assert b.take(KEY) == pytest.approx(0.5)
    clock.now += 0.5
    assert b.take(KEY) == 0.0


def test_refill_never_exceeds_the_burst() -> None:
    b, clock = buckets()
    clock.now += 3600
    assert [b.take(KEY) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take(KEY) > 0


def test_keep_leaves_tokens_for_others_and_is_capped_below_the_burst() -> None:
    b, _ = buckets()
    assert b.take(KEY, keep=2) == 0.0  # 3 -> 2 left
    assert b.take(KEY, keep=2) == pytest.approx(1.0)  # would leave 1 < 2
    assert b.take(KEY) == 0.0  # a caller that keeps nothing still gets one
    assert b.take(KEY, keep=99) == pytest.approx(2.0)  # keep 99 acts as keep 2 (burst - 1)


def test_a_429_holds_for_retry_after_and_lowers_the_rate() -> None:
    b, clock = buckets()
    b.penalize(KEY, 5.0)
    assert b.take(KEY) == pytest.approx(5.0)
    clock.now += 5.0
    state = b.state(KEY)
    assert state is not None and state.rate == pytest.approx(rates.LOWER)
    # Emptied at the 429: after the hold, tokens come at the lowered rate.
    assert b.take(KEY) == 0.0  # 5 s × 0.7/s = 3.5 → capped at the burst of 3
    assert b.take(KEY) == 0.0 and b.take(KEY) == 0.0
    assert b.take(KEY) == pytest.approx(1 / rates.LOWER)


def test_repeated_429s_never_push_the_rate_below_the_floor() -> None:
    b, _ = buckets()
    for _ in range(20):
        b.penalize(KEY, 0.0)
    state = b.state(KEY)
    assert state is not None and state.rate == pytest.approx(rates.FLOOR)


def test_a_long_run_without_429s_probes_upward_to_the_ceiling() -> None:
    b, clock = buckets()
    b.take(KEY)
    clock.now += rates.PROBE_AFTER
    b.take(KEY)
    state = b.state(KEY)
    assert state is not None and state.rate == pytest.approx(rates.PROBE_STEP)
    for _ in range(50):
        clock.now += rates.PROBE_AFTER
        b.take(KEY)
    assert state.rate == pytest.approx(rates.CEILING)


def test_a_429_resets_the_probe_clock() -> None:
    b, clock = buckets()
    clock.now += rates.PROBE_AFTER - 1
    b.penalize(KEY, 0.0)
    clock.now += 2
    b.take(KEY)
    state = b.state(KEY)
    assert state is not None and state.rate == pytest.approx(rates.LOWER)


def starve(b: LocalBuckets, clock: Clock, seconds: float, *, step: float = 0.01) -> None:
    """Demand that always finds the bucket empty, for `seconds`."""
    end = clock.now + seconds
    while clock.now < end:
        while b.take(KEY) == 0.0:
            pass
        clock.now += step


def test_starving_before_any_429_ramps_up_fast_to_the_ramp_ceiling() -> None:
    b, clock = buckets()
    starve(b, clock, rates.RAMP_AFTER - 1)
    state = b.state(KEY)
    assert state is not None and state.rate == pytest.approx(1.0)  # shorter than RAMP_AFTER: no ramp
    starve(b, clock, 2)
    assert state.rate == pytest.approx(rates.RAMP_STEP)
    starve(b, clock, rates.RAMP_AFTER * 10)
    assert state.rate == pytest.approx(rates.RAMP_CEILING)


def test_after_a_429_starving_no_longer_ramps() -> None:
    b, clock = buckets()
    starve(b, clock, rates.RAMP_AFTER + 1)
    state = b.state(KEY)
    assert state is not None and state.rate == pytest.approx(rates.RAMP_STEP)
    b.penalize(KEY, 0.0)
    starve(b, clock, rates.RAMP_AFTER * 4)
    assert state.rate == pytest.approx(rates.RAMP_STEP * rates.LOWER)


def test_a_bucket_that_fills_up_again_was_not_starving() -> None:
    b, clock = buckets()
    starve(b, clock, rates.RAMP_AFTER - 2)
    clock.now += 10  # demand stops: the bucket refills
    b.take(KEY)
    starve(b, clock, rates.RAMP_AFTER - 2)
    state = b.state(KEY)
    assert state is not None and state.rate == pytest.approx(1.0)


def test_teams_and_channels_have_their_own_buckets() -> None:
    b, _ = buckets(Tier(1, 60, 1))
    assert b.take(("T1", UPDATE, "")) == 0.0
    assert b.take(("T2", UPDATE, "")) == 0.0
    assert b.take(("T1", UPDATE, "C2")) == 0.0
    assert b.take(("T1", UPDATE, "")) > 0


def test_a_burst_and_its_refill_never_exceed_the_window() -> None:
    b, clock = buckets(Tier(5, 10, 5))  # "5 per 10 s": a full burst, then the window is spent
    assert [b.take(KEY) for _ in range(5)] == [0.0] * 5
    clock.now += 4  # the bucket has refilled 2 tokens, but 5 were granted in the last 10 s
    assert b.take(KEY) == pytest.approx(6.0 + rates.WINDOW_MARGIN)
    clock.now += 6
    assert b.take(KEY) == pytest.approx(rates.WINDOW_MARGIN)  # calls may reach Slack a little late
    clock.now += rates.WINDOW_MARGIN
    assert b.take(KEY) == 0.0


def test_a_burst_of_answers_spends_the_windows_allowance_within_spread() -> None:
    """At the tier's rate (1 a second) the minute's 60 would take a minute; the window's unused
    allowance refills the bucket within SPREAD seconds instead, and never beyond the window."""
    b, clock = buckets(Tier(60, 60, 3))
    granted = 0
    while clock.now < 1000.0 + rates.SPREAD:
        while b.take(KEY) == 0.0:
            granted += 1
        clock.now += 0.05
    assert granted > 30  # against 3 + 10 at the tier's own rate
    while clock.now < 1000.0 + rates.RAMP_AFTER - 0.5:  # (starving longer would ramp the rate up)
        while b.take(KEY) == 0.0:
            granted += 1
        clock.now += 0.05
    assert granted <= 60  # the window's allowance, all the same


def test_as_the_window_fills_the_refill_slows_to_the_tiers_rate() -> None:
    b, clock = buckets(Tier(60, 60, 3))
    assert [b.take(KEY) for _ in range(3)] == [0.0] * 3
    assert b.take(KEY) == pytest.approx(rates.SPREAD / 57)  # 57 places left, spent over SPREAD
    state = b.state(KEY)
    assert state is not None
    state.granted.extend([clock.now] * 54)  # the window nearly full: 57 of 60
    assert b.take(KEY) == pytest.approx(1.0)  # (60 - 57) / SPREAD < 1: the tier's rate


def test_keep_also_keeps_places_in_the_window() -> None:
    b, clock = buckets(Tier(5, 10, 5))
    assert [b.take(KEY) for _ in range(3)] == [0.0] * 3
    assert b.take(KEY, keep=2) == pytest.approx(10 + rates.WINDOW_MARGIN)  # 2 places left: both kept
    assert b.take(KEY) == 0.0  # a final edit still gets one
    clock.now += 1
    assert b.take(KEY, keep=1) == pytest.approx(9 + rates.WINDOW_MARGIN)


TIER_WINDOW = Tier(10, 60, 10)  # ten a minute, all at once if need be


def full_window_believed_above_the_tier() -> tuple[LocalBuckets, Clock, Bucket]:
    """The tier's ten granted at 1000.0, and a rate believed twice the tier's (as if ramped):
    the window would allow twenty."""
    b, clock = buckets(TIER_WINDOW)
    for _ in range(10):
        assert b.take(KEY) == 0.0
    state = b.state(KEY)
    assert state is not None
    state.rate = TIER_WINDOW.rate * 2
    return b, clock, state


def test_the_first_intermediate_edit_beyond_the_tier_waits_until_a_429_would_cost_little() -> None:
    """After a burst, a 429 for a call beyond the tier holds everyone until the burst's oldest
    call leaves Slack's window: the first such grant waits until that is `PROBE_RISK` away."""
    b, clock, _ = full_window_believed_above_the_tier()
    clock.now += 5
    wait = b.take(KEY, keep=1)
    assert wait == pytest.approx(1000.0 + 60 + rates.WINDOW_MARGIN - rates.PROBE_RISK - clock.now)
    clock.now += wait
    assert b.take(KEY, keep=1) == 0.0  # the probe
    assert b.take(KEY, keep=1) == pytest.approx(rates.CONFIRM_AFTER)  # the next waits to hear of no 429
    clock.now += rates.CONFIRM_AFTER
    assert b.take(KEY, keep=1) == 0.0  # confirmed: beyond the tier from here on


def test_first_content_and_final_edits_go_beyond_the_tier_without_waiting() -> None:
    """Once the tier's window is full they would wait as long for Slack's; where the limits are
    higher they go at once."""
    b, clock, state = full_window_believed_above_the_tier()
    clock.now += 5
    assert b.take(KEY, keep=1) > 30  # an intermediate edit waits
    assert b.take(KEY) == 0.0  # a final one does not
    assert state.probed_at == clock.now  # and counts as the probe


def test_a_429_forgets_the_probe_so_the_next_one_waits_for_little_risk_again() -> None:
    b, clock, state = full_window_believed_above_the_tier()
    clock.now += 5
    assert b.take(KEY) == 0.0  # a final edit beyond the tier: the probe; Slack answers 429
    b.penalize(KEY, 0.0)
    assert state.probed_at == 0.0 and state.limited
    state.rate, state.tokens = TIER_WINDOW.rate * 2, 5.0  # raised again, tokens to spare
    wait = b.take(KEY, keep=1)  # not the 2 s to hear of a 429: the window's oldest first
    assert wait == pytest.approx(1000.0 + 60 + rates.WINDOW_MARGIN - rates.PROBE_RISK - clock.now)
