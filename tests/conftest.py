"""Shared fixtures: a throwaway Redis server for the whole run, and a unique key prefix per test.

The suite never relies on a Redis someone else runs: it starts its own redis-server (on a unix
socket in a temp dir, nothing on disk kept). Each test writes under its own prefix and deletes
only those keys afterwards, so even `TEST_REDIS_URL` pointing at a shared server is safe.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.wiring.embedded_redis import EmbeddedRedis
from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.redis_proxy import RedisProxy
from tests.fakes.relaydance import FakeRelayDance
from tests.fakes.slack import FakeSlack

REDISEARCH_MODULE = "/usr/lib/redis/modules/redisearch.so"  # Debian's redis-redisearch


@contextmanager
def _redis_server(
    data_dir: Path, *, modules: tuple[Path, ...] = (), executable: str | None = None
) -> Iterator[str]:
    executable = executable or shutil.which("redis-server")
    if executable is None:
        pytest.exit("the tests need redis-server on PATH (apt-get install redis-server)", returncode=2)
    server = EmbeddedRedis(data_dir, persistent=False, modules=modules)
    process = subprocess.Popen(  # noqa: S603 - fixed executable found on PATH, our own arguments
        [executable, *server.arguments()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while not server.socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.exit(f"the test redis-server did not start (see {data_dir / 'redis.log'})", returncode=2)
        time.sleep(0.02)
    try:
        yield server.url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield given
        return
    with _redis_server(Path(tmp_path_factory.mktemp("redis"))) as url:
        yield url


@pytest.fixture(scope="session")
def search_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second throwaway redis-server with the Query Engine (RediSearch) loaded, for the knowledge
    index's search backend; TEST_REDISEARCH_MODULE names the module file (default: Debian's),
    TEST_REDISEARCH_SERVER the redis-server to load it into (default: the one on PATH; a
    RediSearch 2.x module needs Redis 7.2 or later)."""
    module = Path(os.environ.get("TEST_REDISEARCH_MODULE", REDISEARCH_MODULE))
    if not module.is_file():
        pytest.skip(
            f"no RediSearch module at {module}: apt-get install redis-redisearch, or point "
            "TEST_REDISEARCH_MODULE at a redisearch.so"
        )
    executable = os.environ.get("TEST_REDISEARCH_SERVER")
    with _redis_server(
        Path(tmp_path_factory.mktemp("redis-search")), modules=(module,), executable=executable
    ) as url:
        yield url


@pytest.fixture
def redis_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_client(redis_url: str, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{redis_prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[RedisProxy]:
    """The test Redis behind a network hop that a test can slow down or cut (see RedisProxy)."""
    async with RedisProxy(redis_url) as proxy:
        yield proxy


# -- the bot end to end: fakes of Slack and RelayDance, and the bot running against them --------


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user("U1", "ada")
        fake.add_user("U2", "grace")
        fake.add_channel("C1", name="general")
        yield fake


@pytest.fixture
async def relay() -> AsyncIterator[FakeRelayDance]:
    async with FakeRelayDance() as fake:
        yield fake


@pytest.fixture
async def bot(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[BotUnderTest]:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
    async with bot_under_test(slack, relay, settings) as running_bot:
        yield running_bot
