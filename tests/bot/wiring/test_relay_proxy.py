"""RelayDance's proxy comes from the environment, as httpx's `trust_env` would have it, once."""

from __future__ import annotations

import pytest

from bot.wiring.runtime import relay_proxy

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_no_proxy_in_the_environment_means_a_direct_connection() -> None:
    assert relay_proxy("https://relay.example/v1") == (None, None)


def test_the_proxy_for_the_scheme_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:pw@proxy.example:3128")
    proxy, auth = relay_proxy("https://relay.example/v1")
    assert str(proxy) == "http://proxy.example:3128"
    assert auth is not None and (auth.login, auth.password) == ("user", "pw")
    assert relay_proxy("http://relay.example/v1") == (None, None)  # HTTPS_PROXY is for https only


def test_no_proxy_exempts_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "relay.example")
    assert relay_proxy("https://relay.example/v1") == (None, None)
