"""Token buckets for Slack's per-method limits: the rules, as pure functions of a clock.

Slack limits each Web API method per workspace and app ("tiers"; chat.postMessage also per
channel), tolerates short bursts, and answers 429 + Retry-After beyond that. One bucket per
(team, method family[, channel]) holds `burst` calls and refills at the tier's rate. The same
rules run in Redis as a Lua script (`bot.stores.budget`) so every replica spends one budget;
`LocalBuckets` runs them in memory when Redis is unavailable, and in tests on a fake clock.

- A 429 holds the bucket for Retry-After, empties it and lowers its rate (never below `FLOOR` of
  the tier's), because Slack just told us the real limit is lower than we thought.
- `PROBE_AFTER` seconds without a 429 raise the rate by `PROBE_STEP` (up to `CEILING` times the
  tier's): Slack's tiers are minimums ("50+ per minute").
- Until its first 429 a bucket does not know where the real limit lies, so while demand keeps it
  empty it ramps up fast, like TCP's slow start: every `RAMP_AFTER` seconds of starving, the rate
  doubles (up to `RAMP_CEILING` times the tier's). A workspace whose limits are higher than the
  tiers (or off) is then served at its pace within a minute or two instead of queueing at the
  minimum; on a real limit the first 429 ends the ramp, and from then on only the slow probe
  applies. A run shorter than `RAMP_AFTER` never ramps.
- Besides the bucket, at most `rate × per` grants in any `per` seconds (a sliding window, as
  Slack counts "50 per minute"): a full burst followed by the refill would otherwise exceed the
  minute's allowance.
- The bucket refills at least at the rate that would spend the window's unused allowance in
  `SPREAD` seconds: at the tier's own rate, a burst of answers (twenty people asking at once)
  would leave most of the minute's allowance unused while they stream, and Slack counts the
  minute, not the pace ("bursts tolerated"). As the window fills, the refill slows to the tier's
  rate, so a long run is paced, not starved and then flooded.
- `keep` asks for a grant only when that many tokens, and that many places in the window, remain
  afterwards: the scheduler keeps them for answers that will need their final edit.
- A grant beyond the tier's own allowance for the window (ramping, probing) risks a 429, and a
  429 holds every answer's edits for its Retry-After: Slack's window frees a place only as its
  oldest call leaves, which after a burst is most of a minute away (measured: 20 answers of 30 s
  each held their final edits 29.6 s). So the first such grant to an intermediate edit (one
  that keeps tokens) waits until the place it needs would be free within `PROBE_RISK` seconds
  anyway, and the next ones wait until it has gone unanswered by a 429 for `CONFIRM_AFTER`: a
  workspace whose limit is the tier pays a hold of a second or two, one whose limits are higher
  learns it once per bucket. First content and final edits (which keep nothing) do not wait for
  that: once the tier's window is full they would wait as long for Slack's, and where the
  limits are higher they go at once.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

LOWER = 0.7
FLOOR = 0.25
PROBE_AFTER = 300.0
PROBE_STEP = 1.1
CEILING = 2.0
RAMP_AFTER = 15.0
RAMP_STEP = 2.0
RAMP_CEILING = 64.0
SPREAD = 10.0  # seconds over which a window's unused allowance may be spent (see the docstring)
WINDOW_MARGIN = 0.25  # seconds added to a window: calls reach Slack a little later than granted, unevenly
PROBE_RISK = 1.0  # a first grant beyond the tier waits until a refusal would hold no longer than this
CONFIRM_AFTER = 2.0  # seconds without a 429 after that grant that say the limit is above the tier

UPDATE = "chat.update"
POST = "chat.postMessage"  # per channel
STREAM = "chat.startStream"  # tier 2
STOP = "chat.stopStream"  # tier 2 too, counted apart: starts never spend the stops' budget
APPEND = "chat.appendStream"
FAMILIES = (UPDATE, POST, STREAM, STOP, APPEND)


@dataclass(frozen=True, slots=True)
class Tier:
    """`calls` per `per` seconds, with up to `burst` calls at once."""

    calls: float
    per: float
    burst: float

    @property
    def rate(self) -> float:
        return self.calls / self.per


# Slack's published tiers; the bursts are ours (configurable: see Settings.slack_rates). Streams
# start and stop in bursts as big as the minute allows: twenty people asking at once all stream.
DEFAULT_TIERS: dict[str, Tier] = {
    UPDATE: Tier(50, 60, 40),
    POST: Tier(60, 60, 20),
    STREAM: Tier(20, 60, 20),
    STOP: Tier(20, 60, 20),
    APPEND: Tier(100, 60, 30),
}


@dataclass(slots=True)
class Bucket:
    tokens: float
    stamp: float  # when `tokens` was last brought up to date
    rate: float  # calls per second now (lowered by 429s, raised by probes)
    hold_until: float = 0.0
    clean_since: float = 0.0  # the last 429 or probe
    limited: bool = False  # a 429 has been seen: the real limit is near, no more ramping
    starved_since: float = 0.0  # when demand began to find the bucket empty (0: it is not)
    probed_at: float = 0.0  # the first grant beyond the tier's window allowance (0: none since a 429)
    granted: deque[float] = field(default_factory=deque)  # grant times within the last `per` seconds


def fresh(tier: Tier, now: float) -> Bucket:
    return Bucket(tokens=tier.burst, stamp=now, rate=tier.rate, clean_since=now)


def _cap(rate: float, tier: Tier) -> int:
    """Grants allowed in one window at `rate` (as the script counts: a lowered rate such as
    2.8/s makes 167.99999… a minute, which is 168)."""
    return max(1, math.floor(rate * tier.per + 1e-6))


def _fill(b: Bucket, tier: Tier) -> float:
    """The refill rate now: the tier's, or faster while the window has allowance to spare."""
    return max(b.rate, (_cap(b.rate, tier) - len(b.granted)) / SPREAD)


def _prune(b: Bucket, tier: Tier, now: float) -> None:
    edge = now - tier.per - WINDOW_MARGIN  # as the script computes it, to the last bit
    while b.granted and b.granted[0] <= edge:
        b.granted.popleft()


def _refill(b: Bucket, tier: Tier, now: float) -> None:
    _prune(b, tier, now)
    elapsed = max(0.0, now - b.stamp)
    fill = _fill(b, tier)
    b.tokens = min(tier.burst, b.tokens + elapsed * fill)
    b.stamp = max(b.stamp, now)
    if elapsed >= tier.burst / fill:
        # Nobody asked for as long as an empty bucket takes to fill: demand has stopped. (A full
        # bucket alone does not say so: it fills while the window holds demand back.)
        b.starved_since = 0.0
    if (
        not b.limited
        and b.starved_since
        and now - max(b.starved_since, b.clean_since) >= RAMP_AFTER
        and b.rate < tier.rate * RAMP_CEILING
    ):
        b.rate = min(b.rate * RAMP_STEP, tier.rate * RAMP_CEILING)
        b.clean_since = now
    elif now - b.clean_since >= PROBE_AFTER and b.rate < tier.rate * CEILING:
        b.rate = min(b.rate * PROBE_STEP, tier.rate * CEILING)
        b.clean_since = now


def take(b: Bucket, tier: Tier, now: float, *, keep: float = 0.0) -> float:
    """Take one token: 0.0 when granted, else the seconds until one could be."""
    _refill(b, tier, now)
    if now < b.hold_until:
        return b.hold_until - now
    cap = _cap(b.rate, tier)
    keep = max(0.0, min(keep, tier.burst - 1, cap - 1))
    over = len(b.granted) + 1 + math.ceil(keep) - cap  # grants that must leave the window first
    if over > 0:
        b.starved_since = b.starved_since or now
        return b.granted[over - 1] + tier.per + WINDOW_MARGIN - now
    beyond = len(b.granted) + 1 + math.ceil(keep) - _cap(tier.rate, tier)  # past the tier's own
    if keep and beyond > 0 and not (b.probed_at and now - b.probed_at >= CONFIRM_AFTER):
        if b.probed_at:  # one is out: is a 429 coming back for it?
            wait = b.probed_at + CONFIRM_AFTER - now
        else:  # the first: when would the place it needs be free, were the tier the limit?
            leaving = b.granted[min(beyond, len(b.granted)) - 1] if b.granted else now - tier.per
            wait = leaving + tier.per + WINDOW_MARGIN - PROBE_RISK - now
        if wait > 0:
            b.starved_since = b.starved_since or now
            return wait
    if b.tokens >= 1 + keep:
        b.tokens -= 1
        b.granted.append(now)
        if beyond > 0 and not b.probed_at:
            b.probed_at = now
        return 0.0
    b.starved_since = b.starved_since or now
    return max(1 + keep - b.tokens, 0.0) / _fill(b, tier) or 1e-3


def penalize(b: Bucket, tier: Tier, now: float, retry_after: float) -> None:
    """Slack answered 429: hold everyone for Retry-After and believe a lower rate."""
    _refill(b, tier, now)
    b.hold_until = max(b.hold_until, now + retry_after)
    b.tokens = 0.0
    b.rate = max(b.rate * LOWER, tier.rate * FLOOR)
    b.clean_since = now
    b.limited = True
    b.starved_since = 0.0
    b.probed_at = 0.0


Key = tuple[str, str, str]  # team, family, channel ("" unless the family is per channel)


@dataclass
class LocalBuckets:
    """The rules in one process's memory: the fallback while Redis is away, and for tests."""

    tiers: dict[str, Tier] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[Key, Bucket] = field(default_factory=dict)

    def _bucket(self, key: Key, now: float) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = fresh(self.tiers[key[1]], now)
        return bucket

    def take(self, key: Key, *, keep: float = 0.0) -> float:
        now = self.clock()
        return take(self._bucket(key, now), self.tiers[key[1]], now, keep=keep)

    def penalize(self, key: Key, retry_after: float) -> None:
        now = self.clock()
        penalize(self._bucket(key, now), self.tiers[key[1]], now, retry_after)

    def state(self, key: Key) -> Bucket | None:
        return self._buckets.get(key)
