"""The container files, read the way Docker would (docker itself cannot run here): what goes into
the image, the order of its layers, its user and health check, and the compose recipes for one
bot and for several replicas."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from bot.core.lifecycle import INTERRUPTED_FINISH_SECONDS
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DRAIN_CANCEL_SECONDS = 10  # TaskTracker.drain waits this long for cancelled tasks to end


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def index_of(steps: list[tuple[str, str]], word: str, contains: str = "") -> int:
    for i, (instruction, rest) in enumerate(steps):
        if instruction == word and contains in rest:
            return i
    raise AssertionError(f"no {word} {contains!r} in the Dockerfile")


def compose(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict)
    return data


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, duration
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


# -- the image -----------------------------------------------------------------------------------


def test_dependencies_are_installed_from_the_lock_before_the_code_is_copied() -> None:
    steps = instructions()
    lock = index_of(steps, "COPY", "requirements.lock")
    install = index_of(steps, "RUN", "requirements.lock")
    code = index_of(steps, "COPY", "bot")
    assert lock < install < code
    assert index_of(steps, "COPY", "handlers") > install
    assert "--no-deps" in steps[index_of(steps, "RUN", "pip install --no-deps")][1]  # nothing unpinned


def test_the_lock_pins_every_runtime_dependency_within_pyproject() -> None:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = Version(version)
    project = (ROOT / "pyproject.toml").read_text()
    block = project[project.index("dependencies = [") : project.index("]", project.index("dependencies = ["))]
    wanted = [Requirement(r) for r in re.findall(r'^\s*"([^"]+)"', block, re.MULTILINE)]
    assert wanted
    for requirement in wanted:
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements.lock (run scripts/lock)"
        assert requirement.specifier.contains(pins[name]), f"{name} {pins[name]} is outside {requirement}"


def test_the_bot_runs_as_an_unprivileged_user_with_a_health_check_for_both_modes() -> None:
    steps = instructions()
    user = index_of(steps, "USER")
    assert steps[user][1] not in ("root", "0")
    assert user < index_of(steps, "CMD")
    health = steps[index_of(steps, "HEALTHCHECK")][1]
    assert '"python", "-m", "bot", "healthcheck"' in health
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "HEALTH_PORT=8080" in env  # Socket Mode has no other listener to check
    assert "8080" in steps[index_of(steps, "EXPOSE")][1]


def test_nothing_secret_or_local_goes_into_the_image() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for entry in (".env", ".venv", ".git", ".state", "tests", "__pycache__"):
        assert entry in ignored, entry


# -- one bot -------------------------------------------------------------------------------------


def test_compose_stops_the_bot_only_after_its_drain() -> None:
    bot = compose("docker-compose.yml")["services"]["bot"]
    default_grace = Settings.__dataclass_fields__["shutdown_grace"].default
    assert isinstance(default_grace, float)
    drain = default_grace + INTERRUPTED_FINISH_SECONDS + DRAIN_CANCEL_SECONDS
    assert seconds(bot["stop_grace_period"]) > drain
    assert bot["environment"]["SHUTDOWN_GRACE"] == "${SHUTDOWN_GRACE:-25}"
    assert default_grace == 25


def test_compose_uses_one_port_everywhere() -> None:
    bot = compose("docker-compose.yml")["services"]["bot"]
    assert bot["environment"]["PORT"] == "${PORT:-3000}"
    assert bot["ports"] == ["${PORT:-3000}:${PORT:-3000}"]
    assert "healthcheck" not in bot  # the image's HEALTHCHECK, which follows HEALTH_PORT
    assert bot["environment"]["HEALTH_PORT"] == "8080"


@pytest.mark.parametrize("name", ["docker-compose.yml", "deploy/compose.replicas.yml"])
def test_redis_has_an_optional_password_a_memory_cap_and_persistence(name: str) -> None:
    services = compose(name)["services"]
    command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy volatile-lru" in command and "--maxmemory ${REDIS_MAXMEMORY:-256mb}" in command
    assert '$${REDIS_PASSWORD:+--requirepass "$$REDIS_PASSWORD"}' in command  # only when set
    assert services["bot"]["environment"]["REDIS_URL"] == "redis://:${REDIS_PASSWORD:-}@redis:6379/0"
    assert "$${REDIS_PASSWORD:+-a" in " ".join(services["redis"]["healthcheck"]["test"])


def test_an_empty_redis_password_sends_no_auth() -> None:
    from redis.connection import parse_url

    assert "password" not in parse_url("redis://:@redis:6379/0")
    assert parse_url("redis://:s3cret@redis:6379/0")["password"] == "s3cret"


# -- several replicas ------------------------------------------------------------------------------


def test_the_replicas_recipe_runs_several_bots_behind_a_load_balancer() -> None:
    services = compose("deploy/compose.replicas.yml")["services"]
    bot = services["bot"]
    assert bot["deploy"]["replicas"] == "${BOT_REPLICAS:-3}"
    assert "ports" not in bot  # replicas cannot share a host port; the load balancer publishes it
    assert seconds(bot["stop_grace_period"]) > 25 + INTERRUPTED_FINISH_SECONDS + DRAIN_CANCEL_SECONDS
    assert bot["build"] == ".." and bot["env_file"] == "../.env"
    port = bot["environment"]["PORT"]
    lb = services["lb"]
    assert lb["profiles"] == ["http"]  # Socket Mode needs no load balancer
    assert lb["ports"] == ["${PORT:-3000}:80"]
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(rf"server bot:{port}\b", conf)
    assert "location /slack/events" in conf
    assert re.search(r"proxy_next_upstream [^;]*http_503[^;]*non_idempotent", conf)  # drains pass on


def test_the_recipes_files_exist_where_they_point() -> None:
    for volume in compose("deploy/compose.replicas.yml")["services"]["lb"]["volumes"]:
        source = volume.split(":")[0]
        assert (ROOT / "deploy" / source).is_file(), source


def test_the_grafana_dashboard_graphs_every_metric_the_bot_exports() -> None:
    import json

    from bot.wiring.metrics import Metrics

    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    used = set(re.findall(r"\brelaydance_[a-z_]+", exprs))
    exported = {
        sample_name
        for family in Metrics().registry.collect()
        for sample_name in (
            [f"{family.name}_total"]
            if family.type == "counter"
            else [f"{family.name}_bucket"]
            if family.type == "histogram"
            else [family.name]
        )
    }
    assert used <= exported, used - exported  # no panel graphs a metric that does not exist
    assert exported <= used, exported - used  # and every metric has a panel
    assert all(panel["datasource"]["uid"] == "${DS_PROMETHEUS}" for panel in dashboard["panels"])
