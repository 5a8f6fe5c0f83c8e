"""docker-compose.yml, the Dockerfile, the proxy config and .env.example agree with each other
and with the code: services, healthchecks, volumes, settings names, CLI commands, the GPU
profile. ``docker compose config`` validates the file too where the compose client exists."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from haloscope.platform.cli.main import build_parser
from haloscope.platform.config import ENV_PREFIX, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "Dockerfile"
PROXY_TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "haloscope.conf.template"
SETTING_NAMES = {f"{ENV_PREFIX}{f.name.upper()}" for f in dataclasses.fields(Settings)}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[-?]([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def _interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` against ``variables``."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match[1], match[2]
        if variables.get(name):
            return variables[name]
        if match[0].startswith(f"${{{name}:?"):
            raise AssertionError(f"{name} is required and .env.example does not set it")
        return default or ""

    return _VARIABLE.sub(substitute, value)


def _is_one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def _haloscope_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if "build" in s}


def test_every_service_has_an_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    assert {"clickhouse", "postgres", "redis", "migrate", "proxy", "worker", "beat"} <= set(
        services
    )
    targets = set(re.findall(r"^FROM \S+ AS (\w+)$", DOCKERFILE.read_text(), re.MULTILINE))
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            assert service["build"]["target"] in targets, name


def test_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    assert [name for name, s in services.items() if _is_one_shot(s)] == ["migrate"]
    for name, service in services.items():
        if not _is_one_shot(service):
            check = service.get("healthcheck", {})
            assert check.get("test") and check["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_dependencies_exist_and_wait_for_the_right_state(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on missing service {target}"
            expected = (
                "service_completed_successfully"
                if _is_one_shot(services[target])
                else "service_healthy"
            )
            assert spec["condition"] == expected, f"{name} -> {target}"
            assert "healthcheck" in services[target] or _is_one_shot(services[target])


def test_named_volumes_are_declared_and_used(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    used = set()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                used.add(source)
    assert used == set(compose["volumes"])


def test_environment_names_are_settings_and_load(services: dict[str, dict[str, Any]]) -> None:
    variables = _env_example()
    for name in variables:
        assert not name.startswith(ENV_PREFIX) or name in SETTING_NAMES, f".env.example: {name}"
    for name, service in _haloscope_services(services).items():
        environment = service["environment"]
        unknown = sorted(k for k in environment if k not in SETTING_NAMES)
        assert not unknown, f"{name}: {unknown} are not Settings fields"
        resolved = {k: _interpolate(str(v), variables) for k, v in environment.items()}
        settings = load_settings(env=resolved)
        assert settings.store == "clickhouse"
        assert settings.broker_url.startswith("redis://redis:")
        assert settings.database_url.startswith("postgresql://haloscope:")
        assert settings.max_request_bytes == int(variables["HALOSCOPE_MAX_REQUEST_BYTES"])


def test_commands_are_haloscope_cli_commands(services: dict[str, dict[str, Any]]) -> None:
    parser = build_parser()
    commands = {}
    for name, service in _haloscope_services(services).items():
        command = [_interpolate(part, _env_example()) for part in service["command"]]
        args = parser.parse_args(command)
        commands[name] = args.command
        if args.command == "worker":
            assert set(args.queues.split(",")) <= {"default", "judge"}, name
    assert sorted(set(commands.values())) == ["beat", "migrate", "serve", "worker"]
    assert list(commands.values()).count("beat") == 1
    assert list(commands.values()).count("serve") >= 2


def test_proxy_round_robins_the_api_replicas_with_the_api_body_limit(
    services: dict[str, dict[str, Any]],
) -> None:
    config = PROXY_TEMPLATE.read_text()
    upstream = re.search(r"upstream haloscope_api \{(.*?)\}", config, re.DOTALL)
    assert upstream is not None
    assert not re.search(r"^\s*(least_conn|ip_hash|hash)\b", upstream[1], re.MULTILINE)
    servers = re.findall(r"^\s*server (\S+):(\d+)", upstream[1], re.MULTILINE)
    replicas = {
        name: s for name, s in _haloscope_services(services).items() if s["command"][0] == "serve"
    }
    assert sorted(host for host, _ in servers) == sorted(replicas)
    for host, port in servers:
        assert replicas[host]["command"][-2:] == ["--port", port]
    assert "proxy_pass http://haloscope_api;" in config
    assert re.search(r"client_max_body_size \$\{HALOSCOPE_MAX_REQUEST_BYTES\};", config)
    proxy = services["proxy"]
    assert (
        proxy["environment"]["HALOSCOPE_MAX_REQUEST_BYTES"]
        == (services["migrate"]["environment"]["HALOSCOPE_MAX_REQUEST_BYTES"])
    )
    assert any(
        v.endswith(":/etc/nginx/templates/default.conf.template:ro") for v in proxy["volumes"]
    )
    assert set(proxy["depends_on"]) == set(replicas)


def test_gpu_profile_reserves_an_nvidia_device_and_installs_vllm(
    services: dict[str, dict[str, Any]],
) -> None:
    gpu = {name: s for name, s in services.items() if "gpu" in s.get("profiles", [])}
    assert gpu, "no service in the gpu profile"
    assert all(not s.get("profiles") for name, s in services.items() if name not in gpu)
    for name, service in gpu.items():
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices), name
        assert service["command"][:3] == ["worker", "--queues", "judge"], name
        stage = DOCKERFILE.read_text().split(f" AS {service['build']['target']}\n", 1)[1]
        stage = stage.split("\nFROM ", 1)[0]
        assert re.search(r'pip install "\.\[[a-z,]*\bvllm\b[a-z,]*\]"', stage), name


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=60
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_docker_compose_config_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip(
            "no compose client: `docker compose` (the Docker CLI compose plugin) and "
            "`docker-compose` are not installed, so only the structural checks ran"
        )
    result = subprocess.run(
        [*command, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE)]
        + ["--profile", "gpu", "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
