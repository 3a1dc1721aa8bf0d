"""Redis stores, one per job, each owning its own keys; `Stores.open` builds them all on one client."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from bot.settings import Settings
from bot.stores.answers import AnswerRecords
from bot.stores.backfill import BackfillStore
from bot.stores.cache import ValueCache
from bot.stores.channel_settings import ChannelSettings
from bot.stores.dedupe import Dedupe
from bot.stores.feedback import Feedback
from bot.stores.guard import RedisGuard, ping
from bot.stores.history import HistoryStore
from bot.stores.index import KnowledgeIndex
from bot.stores.index_plain import PlainIndex
from bot.stores.index_search import SearchIndex
from bot.stores.locks import Locks
from bot.stores.names import NameCache
from bot.stores.quotas import DailyQuotas
from bot.stores.stop_signals import StopSignals
from bot.stores.threads import ActiveThreads
from bot.stores.throttle import Throttle
from bot.stores.turns import Turns
from bot.stores.usage import UsageLedger


@dataclass(frozen=True, slots=True)
class Stores:
    redis: aioredis.Redis
    guard: RedisGuard
    history: HistoryStore
    dedupe: Dedupe
    threads: ActiveThreads
    names: NameCache
    cache: ValueCache
    channels: ChannelSettings
    answers: AnswerRecords
    feedback: Feedback
    usage: UsageLedger
    index: KnowledgeIndex
    stops: StopSignals
    locks: Locks
    turns: Turns
    regenerations: Throttle
    quotas: DailyQuotas
    backfill: BackfillStore

    @classmethod
    def open(cls, redis: aioredis.Redis, settings: Settings, *, search_engine: int | None = None) -> Stores:
        """`search_engine`: the Redis Query Engine's major version to index with
        (bot.stores.search_engine.choose); None indexes with plain Redis."""
        guard = RedisGuard(timeout=settings.redis_timeout)
        prefix = settings.redis_prefix
        ttl = settings.history_ttl_seconds
        return cls(
            redis=redis,
            guard=guard,
            history=HistoryStore(
                redis,
                guard,
                prefix=prefix,
                max_messages=settings.history_max_messages,
                ttl_seconds=ttl,
                max_message_chars=settings.max_stored_message_chars,
            ),
            dedupe=Dedupe(redis, guard, prefix=prefix),
            threads=ActiveThreads(redis, guard, prefix=prefix, ttl_seconds=ttl),
            names=NameCache(redis, guard, prefix=prefix),
            cache=ValueCache(redis, guard, prefix=prefix),
            channels=ChannelSettings(redis, guard, prefix=prefix, defaults=settings),
            answers=AnswerRecords(redis, guard, prefix=prefix, ttl_seconds=ttl),
            feedback=Feedback(redis, guard, prefix=prefix, ttl_seconds=ttl),
            usage=UsageLedger(redis, guard, prefix=prefix),
            index=_index(redis, guard, settings, search_engine),
            stops=StopSignals(redis, guard, prefix=prefix),
            backfill=BackfillStore(redis, guard, prefix=prefix),
            locks=Locks(redis, guard, prefix=prefix),
            turns=Turns(redis, guard, prefix=prefix),
            regenerations=Throttle(
                redis, guard, prefix=prefix, name="regenerate", per_minute=settings.regenerate_per_minute
            ),
            quotas=DailyQuotas(
                redis,
                guard,
                prefix=prefix,
                per_user=settings.daily_tokens_per_user,
                per_channel=settings.daily_tokens_per_channel,
            ),
        )

    async def ping(self) -> bool:
        return await ping(self.redis, self.guard)


def _index(
    redis: aioredis.Redis, guard: RedisGuard, settings: Settings, engine: int | None
) -> KnowledgeIndex:
    prefix, ttl, only = settings.redis_prefix, settings.history_ttl_seconds, settings.knowledge_channels
    if engine is None:
        return PlainIndex(redis, guard, prefix=prefix, ttl_seconds=ttl, channels=only)
    return SearchIndex(redis, guard, prefix=prefix, ttl_seconds=ttl, engine=engine, channels=only)
