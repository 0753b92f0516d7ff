"""`entro-net health` in a secure container: it dials with the container's key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from entro_net.security.keys import generate_keys
from tests.security.conftest import (
    Start,
    child_env,
    start_coordinator,
    start_node,
    stop,
    wait_for_log,
)

pytestmark = pytest.mark.integration


def health(*flags: str, secret: Path | None) -> int:
    env = child_env()
    for key in [k for k in env if k.startswith("ENTRO_NET_")]:
        del env[key]
    if secret is not None:
        env["ENTRO_NET_CURVE_SECRET"] = str(secret)
    done = subprocess.run(
        [sys.executable, "-m", "entro_net", "health", "--timeout", "2", *flags],
        env=env,
        capture_output=True,
        timeout=60,
    )
    return done.returncode


def test_health_answers_for_a_secure_coordinator_and_node_with_their_own_keys(
    processes: Start, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    generate_keys(keys, 1, 0)
    coordinator, ready = start_coordinator(
        processes,
        tmp_path,
        "--curve-secret",
        str(keys / "coordinator.key_secret"),
        "--allow",
        str(keys / "allowed"),
    )
    start_node(
        processes,
        ready["control"],
        tmp_path,
        0,
        "--node-port",
        str(ready["port"] + 2),
        "--curve-secret",
        str(keys / "node-0.key_secret"),
        "--coordinator-key",
        str(keys / "coordinator.key"),
    )
    wait_for_log(tmp_path / "node-0.log", "welcomed", 30.0)
    node = f"tcp://127.0.0.1:{ready['port'] + 2}"
    port = str(ready["port"])

    coordinator_own = health("--port", port, secret=keys / "coordinator.key_secret")
    coordinator_plain = health("--port", port, secret=None)
    node_own = health("--node", node, secret=keys / "node-0.key_secret")
    node_plain = health("--node", node, secret=None)
    stop(coordinator)

    assert (coordinator_own, coordinator_plain) == (0, 1)
    assert (node_own, node_plain) == (0, 1)
