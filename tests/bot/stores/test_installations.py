"""The OAuth stores over a real Redis: installations found again per workspace, the latest bot
token winning, everything of a workspace forgotten on uninstall, and `state` usable once."""

from __future__ import annotations

import redis.asyncio as aioredis
from slack_sdk.oauth.installation_store import Installation

from bot.stores.installations import RedisInstallationStore, RedisOAuthStateStore

SECRET = "state-secret-for-the-tests-0123"


def installation(team: str, token: str, *, user: str = "U1") -> Installation:
    return Installation(
        app_id="A1",
        team_id=team,
        team_name=f"team {team}",
        bot_token=token,
        bot_id=f"B{team}",
        bot_user_id=f"UB{team}",
        bot_scopes="chat:write,commands",
        user_id=user,
        installed_at=1_800_000_000.0,
    )


async def test_each_workspace_finds_its_own_bot(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    store = RedisInstallationStore(redis_client, prefix=redis_prefix)
    await store.async_save(installation("T1", "xoxb-team-one"))
    await store.async_save(installation("T2", "xoxb-team-two"))
    one = await store.async_find_bot(enterprise_id=None, team_id="T1")
    two = await store.async_find_bot(enterprise_id=None, team_id="T2")
    assert one is not None and one.bot_token == "xoxb-team-one" and one.bot_user_id == "UBT1"
    assert two is not None and two.bot_token == "xoxb-team-two"
    assert await store.async_find_bot(enterprise_id=None, team_id="T3") is None
    found = await store.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert found is not None and found.team_name == "team T1"


async def test_a_users_older_installation_gets_the_latest_bot_token(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisInstallationStore(redis_client, prefix=redis_prefix)
    await store.async_save(installation("T1", "xoxb-old", user="U1"))
    await store.async_save(installation("T1", "xoxb-new", user="U2"))
    mine = await store.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert mine is not None and mine.user_id == "U1" and mine.bot_token == "xoxb-new"


async def test_uninstalling_forgets_the_workspace(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    store = RedisInstallationStore(redis_client, prefix=redis_prefix)
    await store.async_save(installation("T1", "xoxb-team-one", user="U1"))
    await store.async_save(installation("T1", "xoxb-team-one", user="U2"))
    await store.async_save(installation("T2", "xoxb-team-two"))
    await store.async_delete_all(enterprise_id=None, team_id="T1")
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="T1") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="T1", user_id="U2") is None
    assert await store.async_find_bot(enterprise_id=None, team_id="T2") is not None  # others stay


async def test_an_org_wide_install_is_found_from_any_team(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisInstallationStore(redis_client, prefix=redis_prefix)
    org = installation("T1", "xoxb-org")
    org.enterprise_id, org.is_enterprise_install = "E1", True
    await store.async_save(org)
    bot = await store.async_find_bot(enterprise_id="E1", team_id="T9", is_enterprise_install=True)
    assert bot is not None and bot.bot_token == "xoxb-org"


async def test_a_state_is_good_once_and_expires(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    states = RedisOAuthStateStore(redis_client, prefix=redis_prefix, secret=SECRET, expiration_seconds=600)
    state = await states.async_issue()
    other = await states.async_issue()
    assert state != other and len(state) >= 32
    nonce = state.partition(".")[0]
    assert 0 < await redis_client.ttl(f"{redis_prefix}:oauth-state:{nonce}") <= 600
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False  # a replayed redirect is refused
    assert await states.async_consume("made-up") is False
    assert await states.async_consume(other) is True


async def test_a_state_signed_with_another_secret_is_refused(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    ours = RedisOAuthStateStore(redis_client, prefix=redis_prefix, secret=SECRET)
    theirs = RedisOAuthStateStore(redis_client, prefix=redis_prefix, secret="another-secret-0123456789")
    state = await theirs.async_issue()
    assert await ours.async_consume(state) is False
    nonce = state.partition(".")[0]
    assert await ours.async_consume(nonce) is False  # unsigned
    assert await ours.async_consume(f"{nonce}.{'0' * 64}") is False  # wrongly signed
    assert await theirs.async_consume(state) is True  # still pending: nothing was consumed


async def test_an_org_wide_uninstall_forgets_the_org_install(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisInstallationStore(redis_client, prefix=redis_prefix)
    org = installation("T1", "xoxb-org")
    org.enterprise_id, org.is_enterprise_install = "E1", True
    await store.async_save(org)
    await store.async_delete_all(enterprise_id="E1", team_id=None, is_enterprise_install=True)
    assert await store.async_find_bot(enterprise_id="E1", team_id="T9", is_enterprise_install=True) is None
    assert (
        await store.async_find_installation(enterprise_id="E1", team_id=None, is_enterprise_install=True)
        is None
    )
