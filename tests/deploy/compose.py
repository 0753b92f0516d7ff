"""Read docker-compose.yml the way Compose does, for tests that run it without Docker.

The namespace harness takes each service's command line and environment from
here, never from a copy in the test, so the file and the tests cannot drift.
Only what this project's compose file uses is supported: ``${VAR}``,
``${VAR:-default}``, ``${VAR-default}``, ``$$``, YAML merge keys, and
pass-through variables (a key without a value).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.dockerfile import Dockerfile

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?-)(?P<default>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as a dict, YAML anchors and merge keys resolved."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top")
    return data


def interpolate(text: str, shell: Mapping[str, str]) -> str:
    """Substitute ``${VAR:-default}`` and friends as Compose does from ``shell``."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        value: str | None = shell.get(name)
        if match["op"] == ":-" and not value:
            return match["default"]
        if match["op"] == "-" and value is None:
            return match["default"]
        return value or ""

    return _VARIABLE.sub(substitute, text)


def env_text(value: Any) -> str:
    """A setting's value as an environment variable spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(item) for item in value]


@dataclass(frozen=True)
class Service:
    """What one compose service would run: its argv and its environment."""

    name: str
    argv: list[str]
    environment: dict[str, str]


def _environment(raw: Any, shell: Mapping[str, str]) -> dict[str, str]:
    pairs: dict[str, str | None] = {}
    if isinstance(raw, dict):
        pairs = {k: None if v is None else str(v) for k, v in raw.items()}
    elif isinstance(raw, list):
        for item in raw:
            key, sep, value = str(item).partition("=")
            pairs[key] = value if sep else None
    resolved: dict[str, str] = {}
    for key, raw_value in pairs.items():
        if raw_value is not None:
            resolved[key] = interpolate(raw_value, shell)
        elif key in shell:
            # Pass-through: set in the container only when set in the shell.
            resolved[key] = shell[key]
    return resolved


def service(
    name: str,
    shell: Mapping[str, str],
    compose: Mapping[str, Any] | None = None,
    dockerfile: Dockerfile | None = None,
) -> Service:
    """The argv and environment Compose would give service ``name``.

    ``shell`` is the environment Compose itself runs in (what interpolation and
    pass-through read). The image's ENTRYPOINT and CMD, from the Dockerfile the
    service builds, fill in what the service does not override, as Docker does.
    """
    data = dict(compose) if compose is not None else load_compose()
    spec = data["services"][name]
    image = dockerfile or Dockerfile.load(REPO / spec["build"]["dockerfile"])

    entrypoint = (
        _as_list(spec["entrypoint"]) if "entrypoint" in spec else image.entrypoint
    )
    command = _as_list(spec["command"]) if "command" in spec else image.cmd
    if "entrypoint" in spec and "command" not in spec:
        command = []  # Docker drops the image's CMD when the entrypoint is set
    argv = [interpolate(part, shell) for part in entrypoint + command]

    environment = dict(image.env)
    environment.update(_environment(spec.get("environment"), shell))
    return Service(name=name, argv=argv, environment=environment)
