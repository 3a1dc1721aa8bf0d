"""Fixtures for the RelayDanceClient tests: the loopback fake and a client pointed at it."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest

from bot.llm.client import RelayDanceClient
from bot.llm.pacing import ReadPacer
from bot.llm.transport import AiohttpTransport
from tests.bot.llm.helpers import MakeClient
from tests.fakes.relaydance import FakeRelayDance


@pytest.fixture
async def fake() -> AsyncIterator[FakeRelayDance]:
    async with FakeRelayDance() as fake:
        yield fake


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    """Built once: loading the CA bundle takes ~60 ms, more than most tests here."""
    return ssl.create_default_context()


@pytest.fixture(params=["httpcore", "aiohttp", "aiohttp-paced"])
async def http(request: pytest.FixtureRequest, tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    """Every client test runs over httpx's own stack and over the aiohttp transport the bot uses,
    with and without read pacing (at a test-sized tick: what matters here is that holding a
    connection between reads changes nothing the client promises)."""
    if request.param == "httpcore":
        async with httpx.AsyncClient(verify=tls) as http:
            yield http
        return
    pacer = ReadPacer(lone_interval=0.02, busy_interval=0.02) if request.param == "aiohttp-paced" else None
    connector = aiohttp.TCPConnector(ssl=tls)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        httpx.AsyncClient(transport=AiohttpTransport(session, pacer=pacer)) as http,
    ):
        yield http


@pytest.fixture
def make_client(fake: FakeRelayDance, http: httpx.AsyncClient) -> MakeClient:
    """A client on the fake with test-sized timeouts and backoff; keyword overrides win."""

    def make(**overrides: Any) -> RelayDanceClient:
        options: dict[str, Any] = {
            "http": http,
            "base_url": fake.base_url,
            "api_key": fake.api_key,
            "connect_timeout": 1.0,
            "first_token_timeout": 1.0,
            "idle_timeout": 1.0,
            "max_retries": 2,
            "backoff_base": 0.001,
            "max_retry_after": 1.0,
        }
        return RelayDanceClient(**{**options, **overrides})

    return make


@pytest.fixture
def client(make_client: MakeClient) -> RelayDanceClient:
    return make_client()
