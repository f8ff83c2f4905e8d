"""`deploy/`: there is no container engine here, so the compose file, the proxy and Prometheus
configurations are held to what the code and each other say: the same API processes everywhere,
every `flint` command line one the CLI accepts, every setting documented, beat alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from flint.app.cli import app as cli
from flint.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SHARED = ("FLINT_DATABASE_URL", "FLINT_SANDBOX_DATABASE_URL", "FLINT_REDIS_URL")
SHARED += ("FLINT_BROKER_URL", "FLINT_JWT_SECRET", "FLINT_CREDENTIALS_KEYS", "FLINT_DATA_DIR")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def flint_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("command", [""])[0] == "flint"
    }


def apis(compose: dict[str, Any]) -> list[str]:
    return sorted(n for n, s in flint_services(compose).items() if s["command"][1] == "serve")


def test_the_topology_has_every_part_and_two_apis(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"proxy", "migrate", "worker", "beat", "postgres", "redis", "rabbitmq"} <= set(services)
    assert "prometheus" in services
    assert apis(compose) == ["api-1", "api-2"]
    roles = sorted(s["command"][1] for s in flint_services(compose).values())
    assert roles == ["beat", "migrate", "serve", "serve", "worker"]


def test_every_flint_command_line_is_one_the_cli_accepts(compose: dict[str, Any]) -> None:
    group = typer.main.get_command(cli)
    assert isinstance(group, typer.core.TyperGroup)
    for name, service in flint_services(compose).items():
        command = group.commands[service["command"][1]]
        command.make_context(name, list(service["command"][2:]))  # raises on a bad option
    assert re.search(r'CMD \["flint", "serve"\]', (DEPLOY / "Dockerfile").read_text())


def test_every_process_shares_the_same_stores_secrets_and_data(compose: dict[str, Any]) -> None:
    services = flint_services(compose)
    for variable in SHARED:
        values = {name: s["environment"][variable] for name, s in services.items()}
        assert len(set(values.values())) == 1, values
    for name, service in services.items():
        assert "flint-data:/var/lib/flint" in service["volumes"], name
        assert service["init"] is True, name  # PID 1 passes SIGTERM on


def test_migrations_run_first_and_once(compose: dict[str, Any]) -> None:
    services = flint_services(compose)
    assert services["migrate"]["restart"] == "no"
    for name, service in services.items():
        if name == "migrate":
            continue
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "--migrate" not in service["command"], name


def test_beat_is_one_process_and_no_worker_embeds_it(compose: dict[str, Any]) -> None:
    beat = compose["services"]["beat"]
    assert "deploy" not in beat
    assert "scale" not in beat
    assert "--beat" not in compose["services"]["worker"]["command"]
    assert "-B" not in compose["services"]["worker"]["command"]


def seconds(duration: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(s|m)", duration).groups()  # type: ignore[union-attr]
    return float(number) * (60 if unit == "m" else 1)


def test_docker_waits_longer_than_the_api_lets_requests_finish(compose: dict[str, Any]) -> None:
    for name in apis(compose):
        service = compose["services"][name]
        (option,) = [a for a in service["command"] if a.startswith("--graceful-timeout=")]
        assert seconds(service["stop_grace_period"]) > float(option.split("=")[1]), name
        assert service["environment"]["FLINT_FORWARDED_ALLOW_IPS"]
        assert "ports" not in service, f"{name} is reachable around the proxy"


def test_the_proxy_and_prometheus_know_exactly_the_api_services(compose: dict[str, Any]) -> None:
    expected = {f"{name}:8000" for name in apis(compose)}
    caddy = (DEPLOY / "Caddyfile").read_text()
    (upstreams,) = re.findall(r"reverse_proxy ([^{]+)\{", caddy)
    assert set(upstreams.split()) == expected
    assert "health_uri /readyz" in caddy
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert set(job["static_configs"][0]["targets"]) == expected
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert compose["secrets"]["metrics_token"] == {"environment": "FLINT_METRICS_TOKEN"}


def test_every_setting_and_every_variable_of_the_compose_file_is_documented(
    compose: dict[str, Any],
) -> None:
    readme = (DEPLOY / "README.md").read_text()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    settings = {f"FLINT_{name.upper()}" for name in Settings.model_fields}
    assert settings - documented == set()
    raw = (DEPLOY / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", raw))
    for service in flint_services(compose).values():
        used |= set(service["environment"])
    assert used - documented == set()
    example = set(re.findall(r"^([A-Z_]+)=", (DEPLOY / "example.env").read_text(), re.M))
    required = set(re.findall(r"\$\{([A-Z_]+):\?", raw))
    assert required <= example


def test_the_image_installs_the_locked_dependencies_as_an_unprivileged_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    makefile = (DEPLOY.parent / "Makefile").read_text()
    (uv_version,) = re.findall(r"^UV_VERSION := (\S+)", makefile, re.M)
    assert f"ghcr.io/astral-sh/uv:{uv_version} " in dockerfile
    assert dockerfile.count("uv sync --frozen --no-dev") == 2
    (user,) = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user not in ("root", "0")
