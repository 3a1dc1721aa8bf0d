"""The workspace's Slack budget in Redis: one token bucket per team and method family, for every replica.

Slack counts calls per workspace and app, not per process, so replicas must spend one budget.
Each bucket is a hash updated by one Lua script (atomic: no two replicas take the same token)
on Redis's own clock (`TIME`), so replicas' clocks need not agree. The script is
`bot.text.rates` transcribed; tests hold the two to the same answers. While Redis is away the
budget falls back to the same rules in this process's memory (`LocalBuckets`).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from bot.settings import Settings
from bot.stores.guard import RedisGuard
from bot.stores.scripts import Script
from bot.text import rates
from bot.text.rates import Key, LocalBuckets, Tier

HOLDER_SECONDS = 30  # a replica that has not asked for this long no longer counts (it may be gone)
HEAD_SECONDS = 2.0  # a queue head re-asks at least every second (schedule.MAX_WAIT): older is gone
HEAD_WAIT = 0.05  # a head that lets another replica's go first asks again this soon
TTL_SECONDS = 3600  # an idle bucket is full again long before; its learned rate may go

# KEYS[1] bucket, KEYS[2] its grants in the window (a sorted set by time); ARGV: op ("take"|"penalize"),
# base rate/s, burst, keep|retry_after, now ("" = TIME), LOWER, FLOOR, PROBE_AFTER, PROBE_STEP,
# CEILING, ttl, per (the window, seconds), WINDOW_MARGIN, holder ("" = none), its answers in flight;
# KEYS[3] the holders' reports; RAMP_AFTER, RAMP_STEP, RAMP_CEILING, SPREAD, behind ("" = not
# catching up: seconds its text has waited), HEAD_SECONDS, HEAD_WAIT, PROBE_RISK, CONFIRM_AFTER;
# KEYS[4] the heads' reports.
# Returns the wait in seconds, as a string.
_SCRIPT = """
local now = tonumber(ARGV[5])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local base, burst, arg = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local per, margin = tonumber(ARGV[12]), tonumber(ARGV[13])
local holder, active = ARGV[14], tonumber(ARGV[15])
if holder ~= '' and ARGV[1] == 'take' then
  -- Each replica reports its answers in flight; catching up keeps a token for every one of them.
  redis.call('HSET', KEYS[3], holder, tostring(active) .. ' ' .. tostring(now))
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[11]))
  if arg > 0 then
    local total, all = 0, redis.call('HGETALL', KEYS[3])
    for i = 1, #all, 2 do
      local count, seen = string.match(all[i + 1], '(%S+) (%S+)')
      if tonumber(seen) > now - tonumber(ARGV[16]) then
        total = total + tonumber(count)
      else
        redis.call('HDEL', KEYS[3], all[i])
      end
    end
    arg = math.max(arg, total)
  end
end
-- A replica's queue head catching up reports since when it has been behind (KEYS[4]); a head less
-- behind than another replica's fresh one lets that one go first, as one queue would.
local behind, peer_ahead = tonumber(ARGV[21]), false
if holder ~= '' and behind and ARGV[1] == 'take' then
  local mine = now - behind
  local heads = redis.call('HGETALL', KEYS[4])
  for i = 1, #heads, 2 do
    local since, seen = string.match(heads[i + 1], '(%S+) (%S+)')
    if heads[i] ~= holder and tonumber(seen) > now - tonumber(ARGV[22]) and tonumber(since) < mine then
      peer_ahead = true
    end
  end
  redis.call('HSET', KEYS[4], holder, tostring(mine) .. ' ' .. tostring(now))
  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[11]))
end
local lower, floor, probe_after = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local step, ceiling = tonumber(ARGV[9]), tonumber(ARGV[10])
local ramp_after, ramp_step, ramp_ceiling = tonumber(ARGV[17]), tonumber(ARGV[18]), tonumber(ARGV[19])
local h = redis.call('HMGET', KEYS[1], 't', 's', 'r', 'h', 'c', 'x', 'v', 'p')
local tokens, stamp, rate = tonumber(h[1]) or burst, tonumber(h[2]) or now, tonumber(h[3]) or base
local hold, clean = tonumber(h[4]) or 0, tonumber(h[5]) or now
local limited, starved, probed = h[6] == '1', tonumber(h[7]) or 0, tonumber(h[8]) or 0
local spread = tonumber(ARGV[20])
local HEAD_WAIT = tonumber(ARGV[23])
local probe_risk, confirm_after = tonumber(ARGV[24]), tonumber(ARGV[25])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.17g', now - per - margin))
local function cap_of(r) return math.max(1, math.floor(r * per + 1e-6)) end  -- r came through a string
local function fill() return math.max(rate, (cap_of(rate) - redis.call('ZCARD', KEYS[2])) / spread) end
local elapsed, filling = math.max(0, now - stamp), fill()
tokens = math.min(burst, tokens + elapsed * filling)
stamp = math.max(stamp, now)
if elapsed >= burst / filling then starved = 0 end
if (not limited) and starved ~= 0 and now - math.max(starved, clean) >= ramp_after
    and rate < base * ramp_ceiling then
  rate = math.min(rate * ramp_step, base * ramp_ceiling)
  clean = now
elseif now - clean >= probe_after and rate < base * ceiling then
  rate = math.min(rate * step, base * ceiling)
  clean = now
end
local wait = 0
if ARGV[1] == 'penalize' then
  hold = math.max(hold, now + arg)
  tokens = 0
  rate = math.max(rate * lower, base * floor)
  clean = now
  limited = true
  starved = 0
  probed = 0
elseif now < hold then
  wait = hold - now
else
  local cap = cap_of(rate)
  local keep = math.max(0, math.min(arg, burst - 1, cap - 1))
  local count = redis.call('ZCARD', KEYS[2])
  local over = count + 1 + math.ceil(keep) - cap
  local beyond = count + 1 + math.ceil(keep) - cap_of(base)
  -- An intermediate edit past the tier's own allowance, none confirmed yet: how long until a
  -- 429 for it would cost little (read only when the window itself has room).
  local function risk_wait()
    if keep == 0 or beyond <= 0 or (probed > 0 and now - probed >= confirm_after) then return 0 end
    if probed > 0 then return probed + confirm_after - now end
    local at = now - per
    if count > 0 then
      local i = math.min(beyond, count) - 1
      at = tonumber(redis.call('ZRANGE', KEYS[2], i, i, 'WITHSCORES')[2])
    end
    return at + per + margin - probe_risk - now
  end
  local risk = over > 0 and 0 or risk_wait()  -- (0 is true in Lua)
  if over > 0 then
    local leaving = redis.call('ZRANGE', KEYS[2], over - 1, over - 1, 'WITHSCORES')
    wait = tonumber(leaving[2]) + per + margin - now
    if starved == 0 then starved = now end
  elseif risk > 0 then
    wait = risk
    if starved == 0 then starved = now end
  elseif peer_ahead then
    wait = math.max(HEAD_WAIT, (1 + keep - tokens) / fill())
  elseif tokens >= 1 + keep then
    if behind then redis.call('HDEL', KEYS[4], holder) end  -- its next head reports afresh
    tokens = tokens - 1
    if beyond > 0 and probed == 0 then probed = now end
    local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
    redis.call('ZADD', KEYS[2], now, tostring(n))
    redis.call('EXPIRE', KEYS[2], tonumber(ARGV[11]))
  else
    wait = math.max(1 + keep - tokens, 0) / fill()
    if wait <= 0 then wait = 0.001 end
    if starved == 0 then starved = now end
  end
end
-- %.17g: a double survives the round trip (tostring keeps 14 digits, and thresholds would drift)
local function exact(x) return string.format('%.17g', x) end
redis.call('HSET', KEYS[1], 't', exact(tokens), 's', exact(stamp), 'r', exact(rate),
  'h', exact(hold), 'c', exact(clean), 'x', limited and '1' or '0', 'v', exact(starved),
  'p', exact(probed))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[11]))
return tostring(wait)
"""

_FAILED = -1.0
LEVELS_MAX_BUCKETS = 10_000  # a scrape reads at most this many buckets (one per team, family, channel)


@dataclass(frozen=True, slots=True)
class Level:
    """A method family's budget right now, across its buckets (teams and channels)."""

    tokens: float  # calls that may go out at once from the emptiest bucket (0 while held back)
    rate: float  # the lowest learned rate, calls per second (below the tier's after 429s)
    buckets: int  # buckets in use (a full, idle one expires)


def tiers_from(settings: Settings) -> dict[str, Tier]:
    specs = {
        rates.UPDATE: settings.slack_rate_update,
        rates.POST: settings.slack_rate_post,
        rates.STREAM: settings.slack_rate_stream,
        rates.STOP: settings.slack_rate_stream,  # one setting: both methods are tier 2
        rates.APPEND: settings.slack_rate_append,
    }
    return {family: Tier(*spec) for family, spec in specs.items()}


class RedisBudget:
    """`take` and `penalize` for `bot.slack.schedule.Budget`, shared through Redis."""

    def __init__(
        self,
        redis: aioredis.Redis,
        guard: RedisGuard,
        *,
        prefix: str,
        tiers: dict[str, Tier] | None = None,
        local: LocalBuckets | None = None,
        clock_override: bool = False,
    ) -> None:
        self._redis = redis
        self._guard = guard
        self._prefix = prefix
        self.tiers = dict(tiers or rates.DEFAULT_TIERS)
        self._local = local or LocalBuckets(tiers=self.tiers)
        self._script = Script(redis, _SCRIPT)
        self._clock_override = clock_override  # tests: pass the local clock's time instead of TIME

    def _key(self, key: Key) -> str:
        team, family, channel = key
        return f"{self._prefix}:budget:{team}:{family}:{channel}"

    async def _run(
        self, key: Key, op: str, arg: float, holder: str = "", active: int = 0, behind: float | None = None
    ) -> float:
        tier = self.tiers[key[1]]
        now = repr(self._local.clock()) if self._clock_override else ""
        args = [op, repr(tier.rate), repr(tier.burst), repr(arg), now]
        args += [repr(v) for v in (rates.LOWER, rates.FLOOR, rates.PROBE_AFTER, rates.PROBE_STEP)]
        args += [repr(rates.CEILING), str(TTL_SECONDS), repr(tier.per), repr(rates.WINDOW_MARGIN)]
        args += [holder, str(active), str(HOLDER_SECONDS)]
        args += [repr(v) for v in (rates.RAMP_AFTER, rates.RAMP_STEP, rates.RAMP_CEILING, rates.SPREAD)]
        args += ["" if behind is None else repr(behind), repr(HEAD_SECONDS), repr(HEAD_WAIT)]
        args += [repr(rates.PROBE_RISK), repr(rates.CONFIRM_AFTER)]

        async def op_() -> float:
            name = self._key(key)
            keys = [name, f"{name}:granted", f"{name}:holders", f"{name}:heads"]
            return float(await self._script(keys=keys, args=args))

        return await self._guard.run(op_, _FAILED, what=f"the Slack budget ({op})")

    async def take(
        self, key: Key, *, keep: float = 0.0, holder: str = "", active: int = 0, behind: float | None = None
    ) -> float:
        """`holder` (a process) reports `active` answers in flight; a `keep` above 0 then keeps
        a token for every answer in flight in any replica reporting within HOLDER_SECONDS.
        `behind`: a catch-up's seconds behind; the replica whose head is further behind goes first."""
        wait = await self._run(key, "take", keep, holder, active, behind)
        return self._local.take(key, keep=keep) if wait == _FAILED else wait

    async def levels(self) -> dict[str, Level] | None:
        """Every family's `Level` as the buckets in Redis hold it now (a family with no bucket
        in use is full); None while Redis is away. Read when /metrics is scraped."""

        async def read() -> dict[str, Level]:
            head = f"{self._prefix}:budget:"
            names: list[str] = []
            async for raw in self._redis.scan_iter(match=f"{head}*", count=1000):
                name = raw.decode() if isinstance(raw, bytes) else str(raw)
                if not name.endswith((":granted", ":holders", ":heads")):
                    names.append(name)
                if len(names) >= LEVELS_MAX_BUCKETS:
                    break
            seconds, micros = await self._redis.time()
            rows: list[list[object]] = []
            if names:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for name in names:
                        pipe.hmget(name, "t", "s", "r", "h")
                    rows = await pipe.execute()
            now = float(seconds) + float(micros) / 1_000_000
            return self._summed(head, names, rows, now)

        return await self._guard.run(read, None, what="the Slack budget (levels)")

    def _summed(self, head: str, names: list[str], rows: list[list[object]], now: float) -> dict[str, Level]:
        found: dict[str, list[tuple[float, float]]] = {}
        for name, row in zip(names, rows, strict=True):
            parts = name[len(head) :].split(":")  # team, family, channel
            tier = self.tiers.get(parts[1]) if len(parts) >= 2 else None
            if tier is None or row[0] is None:
                continue
            tokens, stamp, rate, hold = (float(str(v)) if v is not None else 0.0 for v in row)
            level = 0.0 if now < hold else min(tier.burst, tokens + max(0.0, now - stamp) * rate)
            found.setdefault(parts[1], []).append((level, rate))
        levels = {}
        for family, tier in self.tiers.items():
            seen = found.get(family, [])
            levels[family] = Level(
                tokens=min((t for t, _ in seen), default=tier.burst),
                rate=min((r for _, r in seen), default=tier.rate),
                buckets=len(seen),
            )
        return levels

    async def penalize(self, key: Key, retry_after: float) -> None:
        self._local.penalize(key, retry_after)  # this process holds back even if Redis is away
        await self._run(key, "penalize", retry_after)
