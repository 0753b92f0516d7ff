"""docker-compose.yml is valid Compose, scales, and carries the flags' defaults.

The file is checked against the Compose specification schema from the shared
folder beside the repository, and its environment is read back through
entro_net/config.py, so a default changed in one place fails here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from entro_net.config import ENV_PREFIX, ModelSettings, NetworkConfig
from tests.deploy.compose import (
    COMPOSE_FILE,
    REPO,
    env_text,
    interpolate,
    load_compose,
    service,
)

SCHEMA = REPO.parent / "shared" / "schemas" / "compose-spec.json"

# Where compose deliberately differs from the flags, and why.
COMPOSE_DIFFERS: dict[str, dict[str, Any]] = {
    # nodes find the coordinator by its service name
    "node": {"coordinator": "tcp://coordinator:5555"},
    # the coordinator serves metrics so the `metrics` profile can scrape them
    "coordinator": {"metrics_port": 9464},
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def test_compose_file_validates_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    if not SCHEMA.exists():
        pytest.skip(f"Compose schema not found at {SCHEMA} (the shared/ folder)")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))

    jsonschema.validate(compose, schema, cls=jsonschema.Draft7Validator)


def test_node_service_scales_without_editing_the_file(compose: dict[str, Any]) -> None:
    node = compose["services"]["node"]

    assert "container_name" not in node, "a fixed container name blocks --scale"
    assert "hostname" not in node, "a fixed hostname gives every replica one id"
    assert "ports" not in node, "fixed host ports on node block --scale"
    assert "coordinator" in node["depends_on"]
    assert "container_name" not in compose["services"]["coordinator"]


def _settings_from(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return {**ModelSettings().model_dump(), **NetworkConfig().model_dump()}


def compose_line(var: str) -> str:
    """The line that lists ``var`` in the compose file, with the flag's default."""
    value = _defaults().get(var.removeprefix(ENV_PREFIX).lower())
    if value is None or isinstance(value, tuple):
        return f"  {var}:"
    return f"  {var}: ${{{var}:-{env_text(value)}}}"


def _defaults() -> dict[str, Any]:
    return {
        **ModelSettings.model_construct().model_dump(),
        **NetworkConfig.model_construct().model_dump(),
    }


@pytest.mark.parametrize("name", ["coordinator", "node"])
def test_every_setting_is_a_variable_with_the_flags_default(
    name: str, compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = set(compose["services"][name]["environment"])
    fields = set(ModelSettings.model_fields) | set(NetworkConfig.model_fields)
    expected_vars = {ENV_PREFIX + f.upper() for f in fields} - {
        ENV_PREFIX + "COORDINATOR",  # only nodes dial it
        ENV_PREFIX + "METRICS_PORT",  # only the coordinator serves it
    }
    expected_vars |= {ENV_PREFIX + f.upper() for f in COMPOSE_DIFFERS[name]}
    resolved = service(name, shell={}).environment

    settings = _settings_from(resolved, monkeypatch)

    missing = sorted(expected_vars - listed)
    assert not missing, "add to docker-compose.yml's x-*-settings:\n" + "\n".join(
        compose_line(var) for var in missing
    )
    assert settings == {**_defaults(), **COMPOSE_DIFFERS[name]}


def test_shell_variables_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    shell = {
        "ENTRO_NET_LAW": "seed",
        "ENTRO_NET_PORT": "6000",
        "ENTRO_NET_NODE_ID": "x",
    }
    resolved = service("node", shell=shell).environment

    settings = _settings_from(resolved, monkeypatch)

    assert settings["law"] == "seed"
    assert settings["port"] == 6000
    assert settings["coordinator"] == "tcp://coordinator:6000"
    assert settings["node_id"] == "x"


def test_interpolation_follows_compose_rules() -> None:
    assert interpolate("${A:-x}", {}) == "x"
    assert interpolate("${A:-x}", {"A": ""}) == "x"
    assert interpolate("${A-x}", {"A": ""}) == ""
    assert interpolate("$${A}-${A}", {"A": "1"}) == "${A}-1"


def test_metrics_profile_scrapes_the_coordinators_metrics_port(
    compose: dict[str, Any],
) -> None:
    prometheus = compose["services"]["prometheus"]
    mounts = [v.split(":") for v in prometheus["volumes"]]
    config_file = next(REPO / src for src, dest, *_ in mounts if dest.endswith(".yml"))
    port = service("coordinator", shell={}).environment["ENTRO_NET_METRICS_PORT"]

    config = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))
    targets = [
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    ]

    assert prometheus["profiles"] == ["metrics"]
    assert targets == [f"coordinator:{port}"]


def test_services_build_the_repository_dockerfile(compose: dict[str, Any]) -> None:
    for name in ("coordinator", "node"):
        build = compose["services"][name]["build"]
        assert (COMPOSE_FILE.parent / build["context"]).resolve() == REPO
        assert (REPO / build["dockerfile"]).is_file()


def _non_default(name: str, value: Any) -> str:
    """A valid value other than the default, as an environment variable."""
    special = {
        "kappa": "0.05",
        "degree": "4",
        "faults": '[{"node": 1, "step": 2, "level": 1.5}]',
    }
    if name in special:
        return special[name]
    if isinstance(value, bool):
        return env_text(not value)
    if hasattr(value, "value"):
        members = [m.value for m in type(value)]
        return str(next(m for m in members if m != value.value))
    if isinstance(value, int):
        return str(value + 1)
    if isinstance(value, float):
        return str(round(value * 1.25, 6))
    raise AssertionError(f"no test value for {name}={value!r}")


# A sparse peer graph (degree) works only with the linear law: vary them apart.
@pytest.mark.parametrize("kept", ["law", "degree"])
@pytest.mark.parametrize("command", ["coordinator", "node"])
def test_services_commands_take_every_model_setting_from_the_environment(
    command: str, kept: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from entro_net.cli.common import model_config_from_args
    from entro_net.cli.main import build_parser

    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    defaults = ModelSettings.model_construct().model_dump()
    changed = {
        name: _non_default(name, value)
        for name, value in defaults.items()
        if name != kept
    }
    for name, text in changed.items():
        monkeypatch.setenv(ENV_PREFIX + name.upper(), text)
    expected = ModelSettings().model_dump()

    args = build_parser().parse_args([command])
    taken = model_config_from_args(args).model_dump()

    ignored = sorted(n for n in expected if taken[n] != expected[n])
    assert ignored == [], f"`entro-net {command}` ignores ENTRO_NET_* for {ignored}"
    assert all(taken[n] != defaults[n] for n in changed)
