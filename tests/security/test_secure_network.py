"""Secure mode over real processes: who gets in, who is heard, who decides.

Every scenario of docs/SECURITY.md as a test: a secure network runs and
syncs; a key outside the allow list cannot join, listen or be heard; only
the coordinator's sockets carry decisions; plaintext and CURVE never mix
silently; a key added to the allow list gets in without a restart.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from entro_net.config import ModelConfig
from entro_net.security.keys import generate_keys, load_public_key
from entro_net.sim.simulator import RunSpec, Simulator
from tests.security.conftest import (
    Start,
    events,
    reap,
    start_coordinator,
    start_node,
    start_rogue,
    stop,
    wait_exit,
    wait_for_file,
    wait_for_log,
)

pytestmark = pytest.mark.integration

LOG_WAIT_S = 30.0
TOLERANCE = 1e-9


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """Keys for a coordinator, three nodes and an observer."""
    base = tmp_path / "keys"
    generate_keys(base, 3, 1)
    return base


@pytest.fixture
def stranger(tmp_path: Path) -> Path:
    """A key pair nobody allowed (its node-0 pair)."""
    base = tmp_path / "stranger"
    generate_keys(base, 1, 0)
    return base


@pytest.fixture
def rogues() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        reap(started)


def coordinator_flags(keys: Path) -> list[str]:
    return [
        "--curve-secret",
        str(keys / "coordinator.key_secret"),
        "--allow",
        str(keys / "allowed"),
    ]


def node_flags(keys: Path, index: int, secret: Path | None = None) -> list[str]:
    return [
        "--curve-secret",
        str(secret or keys / f"node-{index}.key_secret"),
        "--coordinator-key",
        str(keys / "coordinator.key"),
    ]


def lockstep_flags(
    tmp_path: Path, index: int, *, size: int, seed: int, steps: int
) -> list[str]:
    """A lockstep node of a ``size``-node run that writes its trajectory."""
    return [
        "--clock", "lockstep", "--lockstep-wait", "20",
        "--network-size", str(size), "--seed", str(seed), "--steps", str(steps),
        "--trajectory", str(tmp_path / f"node-{index}.csv"),
    ]  # fmt: skip


def free_ports(count: int) -> list[int]:
    """Ports below 32768 nobody listens on right now."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


def public_text(path: Path) -> str:
    return load_public_key(path).decode("ascii")


def read_psi(path: Path) -> np.ndarray:
    return np.array([float(row["psi"]) for row in csv.DictReader(path.open())])


# --- a secure network works ---------------------------------------------------


def test_secure_lockstep_network_of_three_nodes_equals_the_simulator(
    processes: Start, tmp_path: Path, keys: Path
) -> None:
    steps, seed = 120, 5
    coordinator, ready = start_coordinator(
        processes,
        tmp_path,
        "--clock", "lockstep", "--expect", "3", "--lockstep-wait", "20",
        *coordinator_flags(keys),
    )  # fmt: skip
    nodes = [
        start_node(
            processes,
            ready["control"],
            tmp_path,
            i,
            *lockstep_flags(tmp_path, i, size=3, seed=seed, steps=steps),
            *node_flags(keys, i),
        )
        for i in range(3)
    ]

    for node in nodes:
        assert wait_exit(node, 90.0) == 0
    stop(coordinator)

    sim = Simulator(ModelConfig(), [RunSpec(3)], steps, seed, record=True).run()
    assert sim.psi is not None
    for i in range(3):
        summary = json.loads((tmp_path / f"node-{i}.json").read_text())
        assert summary["steps"] == steps
        psi = read_psi(tmp_path / f"node-{i}.csv")
        np.testing.assert_allclose(psi, sim.psi[0, :, i], rtol=0, atol=TOLERANCE)
        log = tmp_path / f"node-{i}.log"
        assert events(log, "node_listening")[0]["secure"] is True
        assert not events(log, "curve_refused")
    assert not events(tmp_path / "coordinator.log", "curve_refused")


def test_up_secure_runs_and_only_a_key_holder_can_sniff_it(
    processes: Start, tmp_path: Path
) -> None:
    ready = tmp_path / "up.ready.json"
    up = processes(
        "up", "--secure", "--port", "0", "--plain", "--nodes", "3",
        "--clock", "free", "--rate", "20", "--steps", "160",
        "--ready-file", str(ready), "--log-dir", str(tmp_path / "logs"),
        "--summary-json", str(tmp_path / "up.json"),
        log_name="up.log",
    )  # fmt: skip
    endpoints = wait_for_file(ready, 30.0)
    keys = Path(endpoints["keys"])
    observer = [
        "--coordinator", endpoints["control"],
        "--coordinator-key", str(keys / "coordinator.key"),
    ]  # fmt: skip

    secure = subprocess.run(
        [
            *_entro_net(), "sniff", *observer,
            "--curve-secret", str(keys / "observer-0.key_secret"),
            "--type", "state", "--count", "10", "--duration", "20",
        ],
        capture_output=True, timeout=60, env=_env(),
    )  # fmt: skip
    plain = subprocess.run(
        [
            *_entro_net(), "sniff", "--coordinator", endpoints["control"],
            "--count", "1", "--duration", "2",
        ],
        capture_output=True, timeout=60, env=_env(),
    )  # fmt: skip

    assert secure.returncode == 0, secure.stderr.decode()[-2000:]
    lines = [json.loads(line) for line in secure.stdout.decode().splitlines()]
    assert len(lines) == 10
    assert {line["node"] for line in lines} <= {"node-0", "node-1", "node-2"}
    assert plain.returncode == 1
    assert plain.stdout == b""
    assert wait_exit(up, 90.0) == 0
    summary = json.loads((tmp_path / "up.json").read_text())
    assert [node["steps"] for node in summary["nodes"]] == [160, 160, 160]


def _entro_net() -> list[str]:
    import sys

    return [sys.executable, "-m", "entro_net"]


def _env() -> dict[str, str]:
    from tests.security.conftest import child_env

    return child_env()


# --- keys outside the allow list ---------------------------------------------


def test_a_node_whose_key_is_not_allowed_cannot_join_and_the_coordinator_logs_it(
    processes: Start, tmp_path: Path, keys: Path, stranger: Path
) -> None:
    coordinator, ready = start_coordinator(
        processes, tmp_path, *coordinator_flags(keys)
    )
    for i in range(2):
        start_node(processes, ready["control"], tmp_path, i, *node_flags(keys, i))
    start_node(
        processes,
        ready["control"],
        tmp_path,
        9,
        *node_flags(keys, 9, secret=stranger / "node-0.key_secret"),
    )
    stranger_key = public_text(stranger / "node-0.key")

    # Refused on both sockets it dialled: control (hello) and events.
    wait_for_log(tmp_path / "coordinator.log", stranger_key, LOG_WAIT_S, 2)
    wait_for_log(tmp_path / "node-9.log", "coordinator_refused_key", LOG_WAIT_S)
    wait_for_log(tmp_path / "node-0.log", '"peer": "node-1"', LOG_WAIT_S)
    wait_for_log(tmp_path / "node-0.log", "peer_heard", LOG_WAIT_S)
    stop(coordinator)

    refused = events(tmp_path / "coordinator.log", "curve_refused")
    assert {(e["socket"], e["key"], e["address"]) for e in refused} == {
        ("control", stranger_key, "127.0.0.1"),
        ("events", stranger_key, "127.0.0.1"),
    }
    joined = {
        e["member"] for e in events(tmp_path / "coordinator.log", "member_joined")
    }
    assert joined == {"node-0", "node-1"}
    for i in range(2):
        peers = {e["peer"] for e in events(tmp_path / f"node-{i}.log", "peer_joined")}
        assert "node-9" not in peers
    assert not events(tmp_path / "node-9.log", "welcomed")


def test_an_outsider_that_knows_every_public_key_hears_nothing_and_changes_nothing(
    processes: Start,
    tmp_path: Path,
    keys: Path,
    stranger: Path,
    rogues: list[subprocess.Popen[bytes]],
) -> None:
    steps, seed = 300, 8
    ports = free_ports(2)
    coordinator, ready = start_coordinator(
        processes,
        tmp_path,
        "--clock", "lockstep", "--expect", "2", "--lockstep-wait", "20",
        *coordinator_flags(keys),
    )  # fmt: skip
    rogue = start_rogue(
        tmp_path,
        rogues,
        "outsider",
        "--coordinator", ready["control"],
        "--coordinator-key", str(keys / "coordinator.key"),
        "--curve-secret", str(stranger / "node-0.key_secret"),
        "--node-id", "node-1",
        "--target", "node-1",
        *[
            f"--dial=tcp://127.0.0.1:{ports[i]}={keys / f'node-{i}.key'}"
            for i in range(2)
        ],
        "--duration", "6",
        "--report", str(tmp_path / "rogue.json"),
    )  # fmt: skip
    wait_for_log(tmp_path / "coordinator.log", "curve_refused", LOG_WAIT_S)
    nodes = [
        start_node(
            processes,
            ready["control"],
            tmp_path,
            i,
            "--node-port",
            str(ports[i]),
            *lockstep_flags(tmp_path, i, size=2, seed=seed, steps=steps),
            *node_flags(keys, i),
        )
        for i in range(2)
    ]

    for node in nodes:
        assert wait_exit(node, 90.0) == 0
    assert wait_exit(rogue, 30.0) == 0
    stop(coordinator)

    report = json.loads((tmp_path / "rogue.json").read_text())
    assert report["published"] > 10
    assert report["received"] == {"control": 0, "events": 0, "nodes": 0}
    assert report["welcomed"] is False
    rogue_key = public_text(stranger / "node-0.key")
    refused = events(tmp_path / "coordinator.log", "curve_refused")
    assert {e["socket"] for e in refused if e["key"] == rogue_key} == {
        "control",
        "events",
    }
    sim = Simulator(ModelConfig(), [RunSpec(2)], steps, seed, record=True).run()
    assert sim.psi is not None
    for i in range(2):
        psi = read_psi(tmp_path / f"node-{i}.csv")
        np.testing.assert_allclose(psi, sim.psi[0, :, i], rtol=0, atol=TOLERANCE)


# --- only the coordinator decides ---------------------------------------------


@pytest.mark.parametrize("secure", [True, False], ids=["curve", "plaintext"])
def test_a_member_cannot_isolate_a_node_only_the_coordinator_can(
    processes: Start,
    tmp_path: Path,
    keys: Path,
    rogues: list[subprocess.Popen[bytes]],
    secure: bool,
) -> None:
    # node-1 reads 2.0 from step 20: the coordinator isolates it. The rogue
    # member (node-2's allowed key) tries to isolate node-0 on its own PUB.
    model = ["--clock", "free", "--rate", "20", "--fault", "1:20:2.0"]
    coordinator, ready = start_coordinator(
        processes,
        tmp_path,
        *model,
        *(coordinator_flags(keys) if secure else []),
    )
    nodes = [
        start_node(
            processes,
            ready["control"],
            tmp_path,
            i,
            *model,
            *(node_flags(keys, i) if secure else []),
        )
        for i in range(2)
    ]
    wait_for_log(tmp_path / "node-0.log", "node_started", LOG_WAIT_S)
    rogue = start_rogue(
        tmp_path,
        rogues,
        "member",
        "--coordinator", ready["control"],
        *(
            [
                "--coordinator-key", str(keys / "coordinator.key"),
                "--curve-secret", str(keys / "node-2.key_secret"),
            ]
            if secure
            else []
        ),
        "--node-id", "node-2",
        "--target", "node-0",
        "--duration", "5",
        "--report", str(tmp_path / "rogue.json"),
    )  # fmt: skip

    assert wait_exit(rogue, 30.0) == 0
    wait_for_log(tmp_path / "node-0.log", "peer_isolated", LOG_WAIT_S)
    for node in nodes:
        stop(node)
    stop(coordinator)

    report = json.loads((tmp_path / "rogue.json").read_text())
    assert report["welcomed"] is True, "the rogue must be a member for this test"
    for i in range(2):
        log = tmp_path / f"node-{i}.log"
        summary = json.loads((tmp_path / f"node-{i}.json").read_text())
        targets = [e["target"] for e in events(log, "peer_isolated")]
        assert "node-0" not in targets
        assert summary["ignored_decisions"] > 0
        assert events(log, "decision_ignored")[0]["sender"] == "node-2"
    assert "node-1" in [
        e["target"] for e in events(tmp_path / "node-0.log", "peer_isolated")
    ]
    assert json.loads((tmp_path / "node-0.json").read_text())["isolated"] is False
    coordinator_summary = json.loads(
        (tmp_path / "coordinator.summary.json").read_text()
    )
    assert {d["node"] for d in coordinator_summary["isolations"]} == {"node-1"}


# --- plaintext and CURVE never mix silently ----------------------------------


def test_plaintext_traffic_to_a_secure_coordinator_is_refused(
    processes: Start, tmp_path: Path, keys: Path
) -> None:
    coordinator, ready = start_coordinator(
        processes, tmp_path, *coordinator_flags(keys)
    )
    start_node(processes, ready["control"], tmp_path, 0)
    sniff = subprocess.run(
        [
            *_entro_net(), "sniff", "--coordinator", ready["control"],
            "--count", "1", "--duration", "2",
        ],
        capture_output=True, timeout=60, env=_env(),
    )  # fmt: skip

    wait_for_log(tmp_path / "node-0.log", "coordinator_requires_curve", LOG_WAIT_S)
    # One line per socket (control, events): the warnings are rate-limited.
    wait_for_log(tmp_path / "coordinator.log", "plaintext_refused", LOG_WAIT_S, 2)
    stop(coordinator)

    assert sniff.returncode == 1
    assert sniff.stdout == b""
    sockets = {
        e["socket"] for e in events(tmp_path / "coordinator.log", "plaintext_refused")
    }
    assert sockets == {"control", "events"}
    assert not events(tmp_path / "coordinator.log", "member_joined")
    hint = events(tmp_path / "node-0.log", "coordinator_requires_curve")[0]["hint"]
    assert "--curve-secret" in hint and "--coordinator-key" in hint


def test_a_secure_node_pointed_at_a_plaintext_coordinator_says_so(
    processes: Start, tmp_path: Path, keys: Path
) -> None:
    coordinator, ready = start_coordinator(processes, tmp_path)
    start_node(processes, ready["control"], tmp_path, 0, *node_flags(keys, 0))

    wait_for_log(tmp_path / "node-0.log", "coordinator_not_secure", LOG_WAIT_S)
    wait_for_log(tmp_path / "coordinator.log", "curve_client_refused", LOG_WAIT_S)
    stop(coordinator)

    said = events(tmp_path / "node-0.log", "coordinator_not_secure")[0]
    assert said["level"] == "error"
    assert "does not use CURVE" in said["hint"]
    assert not events(tmp_path / "node-0.log", "welcomed")


def test_a_node_pinned_to_a_wrong_coordinator_key_is_told_to_check_it(
    processes: Start, tmp_path: Path, keys: Path, stranger: Path
) -> None:
    coordinator, ready = start_coordinator(
        processes, tmp_path, *coordinator_flags(keys)
    )
    start_node(
        processes,
        ready["control"],
        tmp_path,
        0,
        "--curve-secret", str(keys / "node-0.key_secret"),
        "--coordinator-key", str(stranger / "coordinator.key"),
    )  # fmt: skip

    wait_for_log(tmp_path / "node-0.log", "coordinator_handshake_failed", LOG_WAIT_S)
    wait_for_log(tmp_path / "coordinator.log", "curve_handshake_failed", LOG_WAIT_S)
    stop(coordinator)

    hint = events(tmp_path / "node-0.log", "coordinator_handshake_failed")[0]["hint"]
    assert "--coordinator-key" in hint
    assert not events(tmp_path / "node-0.log", "welcomed")


# --- the allow list changes without a restart --------------------------------


def test_a_key_added_to_the_allow_list_joins_without_restarting_anything(
    processes: Start, tmp_path: Path, keys: Path, stranger: Path
) -> None:
    coordinator, ready = start_coordinator(
        processes, tmp_path, *coordinator_flags(keys)
    )
    start_node(
        processes,
        ready["control"],
        tmp_path,
        7,
        "--rejoin-backoff-max",
        "1",
        *node_flags(keys, 7, secret=stranger / "node-0.key_secret"),
    )
    wait_for_log(tmp_path / "node-7.log", "coordinator_refused_key", LOG_WAIT_S)

    shutil.copy(stranger / "node-0.key", keys / "allowed" / "node-7.key")

    wait_for_log(tmp_path / "node-7.log", "welcomed", LOG_WAIT_S)
    wait_for_log(tmp_path / "coordinator.log", "allow_list_reloaded", LOG_WAIT_S)
    stop(coordinator)
    joined = [
        e["member"] for e in events(tmp_path / "coordinator.log", "member_joined")
    ]
    assert joined == ["node-7"]


def test_up_secure_runs_over_the_hub_topology_too(
    processes: Start, tmp_path: Path
) -> None:
    from tests.integration.conftest import run_up

    summary = run_up(
        processes,
        tmp_path,
        "--secure",
        "--topology",
        "hub",
        "--clock",
        "lockstep",
        "--nodes",
        "3",
        "--steps",
        "40",
    )

    assert [node["steps"] for node in summary["nodes"]] == [40, 40, 40]
    logs = sorted((tmp_path / "logs").glob("node-*.log"))
    assert len(logs) == 3
    for log in logs:
        assert events(log, "node_listening")[0]["secure"] is True
