"""Many workspaces (OAuth installs): each event's workspace found again, its token and bot identity.

Bolt calls `find` (through the app's `authorize`) for every request; the answer is the
installation's bot token from the Redis installation store and who the bot is there (`auth.test`
with that token, which also proves the token still works). Both are cached for CACHE_SECONDS so
an event costs no Slack call and no Redis read while its workspace is busy; an uninstall forgets
the cache entry at once in the replica that hears of it (other replicas within CACHE_SECONDS,
after which the store no longer has the workspace).

An optional `fallback` is the workspace of SLACK_BOT_TOKEN when it is set beside the OAuth
variables (the workspace the app was first installed into from its settings page, which never
passes through /slack/install): it is used when the store has no installation for that team.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.identity import BotIdentity, scopes_of
from bot.slack.teams import Team
from bot.stores.installations import RedisInstallationStore

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0

CacheKey = tuple[str | None, str | None]


@dataclass(frozen=True, slots=True)
class Where:
    """Which installation an event belongs to, as Bolt's context names it."""

    enterprise_id: str | None
    team_id: str | None
    is_enterprise_install: bool = False

    @property
    def key(self) -> CacheKey:
        return (self.enterprise_id, self.team_id)


class Workspaces:
    def __init__(
        self,
        store: RedisInstallationStore,
        *,
        slack: AsyncWebClient,
        fallback: Team | None = None,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._slack = slack
        self._fallback = fallback
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[CacheKey, tuple[Team, float]] = {}

    async def find(self, where: Where) -> Team | None:
        """The workspace's token and identity, or None when it has not installed the app."""
        cached = self._cache.get(where.key)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        bot = await self._store.async_find_bot(
            enterprise_id=where.enterprise_id,
            team_id=where.team_id,
            is_enterprise_install=where.is_enterprise_install,
        )
        if bot is None:
            self._cache.pop(where.key, None)
            fallback = self._fallback
            if fallback is not None and where.team_id == fallback.identity.team_id:
                return fallback
            return None
        team = await self._confirmed(bot, where)
        if team is not None:
            self._cache[where.key] = (team, self._clock() + self._cache_seconds)
        return team

    async def _confirmed(self, bot: Bot, where: Where) -> Team | None:
        """The bot's identity from `auth.test` with its own token; None if Slack refuses it."""
        team_id = where.team_id or bot.team_id or ""
        try:
            response = await self._slack.auth_test(token=bot.bot_token)
        except SlackApiError as exc:
            log.warning(
                "Slack refused the stored token of workspace %s (%s)", team_id, exc.response.get("error")
            )
            return None
        except aiohttp.ClientError as exc:
            # Slack unreachable: answer from the stored record (no workspace URL) and ask again next time.
            log.warning("auth.test for workspace %s failed (%s)", team_id, type(exc).__name__)
            return Team(
                token=bot.bot_token,
                identity=BotIdentity(
                    team_id=team_id,
                    user_id=bot.bot_user_id,
                    bot_id=bot.bot_id,
                    scopes=frozenset(bot.bot_scopes or ()),
                ),
            )
        identity = BotIdentity(
            team_id=team_id or str(response.get("team_id") or ""),
            user_id=str(response.get("user_id") or bot.bot_user_id),
            bot_id=response.get("bot_id") or bot.bot_id,
            url=str(response.get("url") or ""),
            scopes=scopes_of(response.headers) or frozenset(bot.bot_scopes or ()),
        )
        return Team(token=bot.bot_token, identity=identity)

    def forget(self, where: Where) -> None:
        """Drop the cached token and identity, so the next event reads the store again."""
        self._cache.pop(where.key, None)

    async def uninstalled(self, where: Where) -> None:
        """The app was uninstalled (or its bot token revoked): forget the workspace entirely."""
        await self._store.async_delete_all(
            enterprise_id=where.enterprise_id,
            team_id=where.team_id,
            is_enterprise_install=where.is_enterprise_install,
        )
        self.forget(where)
        log.info("forgot the installation of workspace %s", where.team_id or where.enterprise_id)

    async def user_tokens_revoked(self, where: Where, users: list[str]) -> None:
        """People's own tokens were revoked: forget their installations (the bot's stays)."""
        for user in users:
            await self._store.async_delete_installation(
                enterprise_id=where.enterprise_id,
                team_id=where.team_id,
                user_id=user,
                is_enterprise_install=where.is_enterprise_install,
            )
