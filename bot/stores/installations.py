"""Where the OAuth flow keeps each workspace's installation and its one-time `state` values.

Bolt's OAuth flow (many workspaces: SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_STATE_SECRET)
needs an installation store (the bot token of every workspace that installed the app, found again
for each request) and a state store (the CSRF `state` of an install in progress, usable once).
Both live in Redis so every replica finds them. Installations are kept as slack-sdk writes them
(`Installation` / `Bot` attributes as JSON); they hold bot tokens, so the Redis holding them must
be as private as the tokens.

Keys (under the bot's prefix):
    install:{enterprise}:{team}:bot              the latest bot of a workspace
    install:{enterprise}:{team}:installer:{user} the latest installation by that user ("-": any)
    oauth-state:{state}                          a pending install (expires)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from typing import Any

import redis.asyncio as aioredis
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

log = logging.getLogger(__name__)

NONE = "-"
ANY_USER = "-"


def _ids(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> str:
    """An org-wide install is one entry for the whole enterprise, whatever team asks."""
    team = NONE if is_enterprise_install else (team_id or NONE)
    return f"{enterprise_id or NONE}:{team}"


class RedisInstallationStore(AsyncInstallationStore):
    def __init__(self, redis: aioredis.Redis, *, prefix: str) -> None:
        self._r = redis
        self._prefix = prefix

    @property
    def logger(self) -> logging.Logger:
        return log

    def _key(self, ids: str, *rest: str) -> str:
        return ":".join((self._prefix, "install", ids, *rest))

    async def async_save(self, installation: Installation) -> None:
        ids = _ids(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        entity = json.dumps(installation.__dict__)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(self._key(ids, "installer", ANY_USER), entity)
            pipe.set(self._key(ids, "installer", installation.user_id or ANY_USER), entity)
            await pipe.execute()
        await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        if bot.bot_token is None:
            return
        ids = _ids(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        await self._r.set(self._key(ids, "bot"), json.dumps(bot.__dict__))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        raw = await self._r.get(self._key(_ids(enterprise_id, team_id, is_enterprise_install), "bot"))
        return None if raw is None else Bot(**_loaded(raw))

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        ids = _ids(enterprise_id, team_id, is_enterprise_install)
        raw = await self._r.get(self._key(ids, "installer", user_id or ANY_USER))
        if raw is None:
            return None
        installation = Installation(**_loaded(raw))
        # A user's own installation may predate the workspace's latest bot token: use the latest.
        bot = await self.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        if bot is not None and bot.bot_token != installation.bot_token:
            installation.bot_id = bot.bot_id
            installation.bot_user_id = bot.bot_user_id
            installation.bot_token = bot.bot_token
            installation.bot_scopes = bot.bot_scopes
            installation.bot_refresh_token = bot.bot_refresh_token
            installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    async def async_delete_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> None:
        await self._r.delete(self._key(_ids(enterprise_id, team_id, is_enterprise_install), "bot"))

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> None:
        ids = _ids(enterprise_id, team_id, is_enterprise_install)
        if user_id is not None:
            await self._r.delete(self._key(ids, "installer", user_id))
            return
        keys = [key async for key in self._r.scan_iter(match=self._key(ids, "installer", "*"), count=500)]
        if keys:
            await self._r.delete(*keys)

    async def async_delete_all(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> None:
        """The workspace uninstalled the app: forget it entirely. (slack-sdk's interface has no
        `is_enterprise_install` here; an org-wide install is kept under the enterprise alone, so
        the uninstall of one needs it to find the entry.)"""
        org = is_enterprise_install
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=org)
        await self.async_delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=org
        )


class RedisOAuthStateStore(AsyncOAuthStateStore):
    """One-time `state` values for installs in progress, expiring after `expiration_seconds`.

    Each state is `nonce.signature` (HMAC-SHA256 under SLACK_STATE_SECRET): a state this app did
    not issue is refused without a Redis call, and one it did issue is good once (DEL).
    """

    def __init__(
        self, redis: aioredis.Redis, *, prefix: str, secret: str, expiration_seconds: int = 600
    ) -> None:
        self._r = redis
        self._prefix = prefix
        self._secret = secret.encode()
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    def _key(self, state: str) -> str:
        return f"{self._prefix}:oauth-state:{state}"

    def _signed(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        nonce = secrets.token_urlsafe(32)
        await self._r.set(self._key(nonce), "1", ex=self.expiration_seconds)
        return f"{nonce}.{self._signed(nonce)}"

    async def async_consume(self, state: str) -> bool:
        """True once per issued state (DEL reports whether it was there), False for any other."""
        nonce, _, signature = (state or "").partition(".")
        if not nonce or not hmac.compare_digest(signature, self._signed(nonce)):
            return False
        return bool(await self._r.delete(self._key(nonce)))


def _loaded(raw: str | bytes) -> dict[str, Any]:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("an installation record is not a JSON object")
    return data
