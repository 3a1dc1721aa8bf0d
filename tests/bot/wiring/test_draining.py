"""Shutdown and start-up as an operator sees them: health 503 at once, events refused while
draining, answers finishing within SHUTDOWN_GRACE or ending with a note, a refused app token named
in one line, and signals honoured at every stage."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from bot.errors import ConfigError
from bot.settings import Secret
from bot.wiring.runtime import running
from tests.bot.wiring.cli import bot_env, finish, start
from tests.e2e_harness import bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, event_callback, sign
from tests.fakes.slack import FakeSlack


def answer_text(slack: FakeSlack, mention: dict[str, str]) -> str:
    replies = [m for m in slack.thread_messages("C1", mention["ts"]) if m.get("user") == "UBOT"]
    return "\n".join(str(m.get("text", "")) for m in replies)


async def test_draining_turns_health_503_refuses_events_and_lets_answers_finish(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, shutdown_grace=10)
    relay.push(Script.stream(["Rotate ", "them ", "yearly."], pace=0.3))
    mention = app_mention(text="<@UBOT> how often?", user="U1")
    async with bot_under_test(slack, relay, settings) as bot:
        assert (await bot.http.get(f"{bot.url}/healthz")).status_code == 200
        await bot.send(mention)
        await relay.wait_requests(1)
        bot.running.begin_shutdown()
        health = await bot.http.get(f"{bot.url}/healthz")
        assert health.status_code == 503 and health.json()["error"] == "shutting_down"
        late = await bot.send(app_mention(text="<@UBOT> one more", user="U2"))
        assert late.status_code == 503  # not acknowledged: Slack delivers it again elsewhere
        began = time.monotonic()
    assert time.monotonic() - began < 5
    assert answer_text(slack, mention) == "Rotate them yearly."
    assert len(relay.requests) == 1  # the refused event started nothing


async def test_an_answer_outliving_the_grace_ends_with_the_interrupted_note(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, shutdown_grace=0.5)
    relay.push(Script.stream(["Started ", "and then a long pause"], pace=4))
    mention = app_mention(text="<@UBOT> write an essay", user="U1")
    async with bot_under_test(slack, relay, settings) as bot:
        await bot.send(mention)
        await slack.wait_for(lambda c: c.method == "chat.update" and "Started" in str(c.params.get("text")))
        bot.running.begin_shutdown()
        began = time.monotonic()
    assert time.monotonic() - began < 0.5 + 4
    text = answer_text(slack, mention)
    assert text.startswith("Started") and "Interrupted" in text and "long pause" not in text


async def test_a_refused_app_token_stops_start_up_naming_it(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str
) -> None:
    settings = make_settings(
        slack, relay, redis_url=redis_url, prefix=redis_prefix, slack_app_token=Secret("xapp-1-revoked")
    )
    began = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        async with running(settings):
            pass
    assert time.monotonic() - began < 5
    assert caught.value.name == "SLACK_APP_TOKEN" and "invalid_auth" in str(caught.value)
    assert "revoked" not in str(caught.value)
    assert slack.connections == 0


async def test_the_process_with_a_refused_app_token_exits_with_one_line(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = bot_env(slack, relay, redis_url, redis_prefix, SLACK_APP_TOKEN="xapp-1-revoked-token")
    result = await finish(await start([], env, tmp_path), timeout=20)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "configuration error: SLACK_APP_TOKEN: was refused by Slack (invalid_auth)"
    )
    assert "Traceback" not in result.stderr and result.seconds < 10
    assert "revoked-token" not in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_during_start_up_stops_the_process_at_once(
    relay: FakeRelayDance, redis_url: str, redis_prefix: str, tmp_path: Path, sig: signal.Signals
) -> None:
    async with FakeSlack(latency=30) as slow:  # auth.test takes 30 s to answer
        process = await start([], bot_env(slow, relay, redis_url, redis_prefix, PORT="0"), tmp_path)
        async with asyncio.timeout(10):
            # The fake wakes waiters only for answered calls, and this one is held for 30 s.
            while not slow.calls:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        process.send_signal(sig)
        result = await finish(process, timeout=10)
    assert result.returncode == 0 and result.seconds < 5
    assert "Traceback" not in result.stderr


async def test_socket_mode_serves_health_and_metrics_and_stops_on_sigterm(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = bot_env(slack, relay, redis_url, redis_prefix, SLACK_APP_TOKEN=slack.app_token, HEALTH_PORT="0")
    process = await start([], env, tmp_path)
    assert process.stderr is not None
    url = None
    async with asyncio.timeout(20):
        while url is None:
            line = (await process.stderr.readline()).decode()
            assert line, "the bot exited before serving health"
            found = re.search(r"health and metrics on (http://\S+)/healthz", line)
            url = found.group(1) if found else None
        await slack.wait_connected()
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{url}/healthz")).json() == {"ok": True}
        page = await http.get(f"{url}/metrics")
        assert page.headers["content-type"].startswith("text/plain")
        assert "relaydance_streams_in_flight 0.0" in page.text
    process.send_signal(signal.SIGTERM)
    result = await finish(process, timeout=15)
    assert result.returncode == 0 and result.seconds < 5
    assert "Traceback" not in result.stderr


async def test_a_signed_event_is_refused_with_503_only_while_draining(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    """Even a signed url_verification is not answered while draining: the replica is going away."""
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix)
    async with bot_under_test(slack, relay, settings) as bot:
        raw = json.dumps(event_callback(app_mention(text="<@UBOT> hi")))
        headers = {**sign("test-signing-secret-42", raw), "Content-Type": "application/json"}
        bot.running.begin_shutdown()
        refused = await bot.http.post(f"{bot.url}/slack/events", content=raw, headers=headers)
        assert refused.status_code == 503 and refused.json() == {"ok": False, "error": "shutting_down"}
        metrics = (await bot.http.get(f"{bot.url}/metrics")).text
        assert 'relaydance_events_refused_total{reason="draining"} 1.0' in metrics
