"""Joining over real processes: node before coordinator, late joiner, restarts."""

from __future__ import annotations

import json
import random
import socket
import time
from pathlib import Path

import pytest
import zmq

from entro_net.config import WEIGHTS_START
from entro_net.protocol import Decoder, Threshold
from tests.integration.conftest import (
    Start,
    start_coordinator,
    wait_exit,
    wait_for_log,
)

pytestmark = pytest.mark.integration

RATE = "50"


def free_port_pair() -> int:
    """A port P with P and P+1 free now (below 32768)."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise AssertionError("no free port pair")


def wait_for_network_step(events: str, step: int, timeout_s: float) -> None:
    """Subscribe to the coordinator's event stream until θ_net reaches ``step``."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"T")
    sub.connect(events)
    decoder = Decoder()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if not sub.poll(100):
                continue
            msg = decoder.feed(sub.recv())
            if isinstance(msg, Threshold) and msg.step >= step:
                return
        raise AssertionError(f"the network did not reach step {step} in {timeout_s} s")
    finally:
        sub.close(0)
        ctx.term()


def node_flags(tmp_path: Path, name: str, index: int, port: int) -> list[str]:
    return [
        "node", "--coordinator", f"tcp://127.0.0.1:{port}",
        "--node-id", name, "--index", str(index),
        "--bind-host", "127.0.0.1", "--advertise", "127.0.0.1",
        "--clock", "free", "--rate", RATE,
        "--summary-json", str(tmp_path / f"{name}.json"),
    ]  # fmt: skip


def test_node_started_before_its_coordinator_joins_when_it_appears(
    processes: Start, tmp_path: Path
) -> None:
    port = free_port_pair()
    node = processes(
        *node_flags(tmp_path, "early", 0, port), "--steps", "20", log_name="early.log"
    )
    wait_for_log(tmp_path / "early.log", "node_listening", 20.0)
    assert node.poll() is None, "the node must wait, not give up"

    processes("coordinator", "--port", str(port), "--bind-host", "127.0.0.1",
              "--clock", "free", log_name="coordinator.log")  # fmt: skip
    assert wait_exit(node, 30.0) == 0
    figures = json.loads((tmp_path / "early.json").read_text())
    assert figures["steps"] == 20
    assert figures["leave_reason"] == "steps_done"
    wait_for_log(tmp_path / "early.log", "welcomed", 1.0)


def test_a_node_started_with_another_model_is_refused_with_one_line(
    processes: Start, tmp_path: Path
) -> None:
    _, ready = start_coordinator(processes, tmp_path, "--bind-host", "127.0.0.1",
                                 "--clock", "free", "--rate", RATE)  # fmt: skip
    port = ready["port"]
    odd = processes(*node_flags(tmp_path, "odd", 0, port), "--law", "seed",
                    "--steps", "20", log_name="odd.log")  # fmt: skip
    assert wait_exit(odd, 30.0) == 2
    lines = [json.loads(x) for x in (tmp_path / "odd.log").read_text().splitlines()
             if x.startswith("{")]  # fmt: skip
    mismatch = next(x for x in lines if x["event"] == "config_mismatch")
    assert mismatch["theirs"] != mismatch["ours"] and "--law" in mismatch["hint"]
    assert "runs another model config" in (tmp_path / "odd.log").read_text()
    assert json.loads((tmp_path / "odd.json").read_text())["steps"] == 0
    wait_for_log(tmp_path / "coordinator.log", "config_mismatch", 5.0)


def test_late_joiner_gets_the_snapshot_and_the_networks_weights_first(
    processes: Start, tmp_path: Path
) -> None:
    _, endpoints = start_coordinator(processes, tmp_path, "--bind-host", "127.0.0.1",
                                     "--clock", "free", "--rate", RATE,
                                     "--source", "plant")  # fmt: skip
    port = endpoints["port"]
    for i in range(2):
        processes(*node_flags(tmp_path, f"early{i}", i, port), "--source", "plant",
                  "--steps", "400", log_name=f"early{i}.log")  # fmt: skip
    wait_for_network_step(endpoints["events"], 60, 30.0)

    late = processes(*node_flags(tmp_path, "late", 2, port), "--source", "plant",
                     "--steps", "10", log_name="late.log")  # fmt: skip
    assert wait_exit(late, 30.0) == 0
    log_lines = [json.loads(line) for line in (tmp_path / "late.log").open()]
    events = [line["event"] for line in log_lines]
    assert events.index("welcomed") < events.index("node_started")
    welcome = next(line for line in log_lines if line["event"] == "welcomed")
    assert welcome["peers"] == 2
    assert welcome["step"] >= 60
    assert welcome["weights"] is not None

    figures = json.loads((tmp_path / "late.json").read_text())
    assert figures["start_weights"] == pytest.approx(welcome["weights"])
    assert figures["start_weights"] != pytest.approx(list(WEIGHTS_START), abs=1e-3)
    assert figures["steps"] == 10


def test_nodes_run_on_without_the_coordinator_and_rejoin_when_it_is_back(
    processes: Start, tmp_path: Path
) -> None:
    port = free_port_pair()
    coordinator_flags = ["coordinator", "--port", str(port), "--bind-host",
                         "127.0.0.1", "--clock", "free", "--rate", RATE]  # fmt: skip
    first = processes(*coordinator_flags, log_name="coordinator-1.log")
    nodes = [
        processes(
            *node_flags(tmp_path, f"n{i}", i, port),
            "--steps",
            "600",
            log_name=f"n{i}.log",
        )
        for i in range(2)
    ]
    wait_for_network_step(f"tcp://127.0.0.1:{port + 1}", 50, 30.0)

    first.terminate()
    assert wait_exit(first, 10.0) == 0
    wait_for_log(tmp_path / "n0.log", "coordinator_lost", 15.0)
    assert all(node.poll() is None for node in nodes)

    processes(*coordinator_flags, log_name="coordinator-2.log")
    for i in range(2):
        wait_for_log(tmp_path / f"n{i}.log", '"rejoin": true', 20.0)
    for node in nodes:
        assert wait_exit(node, 30.0) == 0
    for i in range(2):
        figures = json.loads((tmp_path / f"n{i}.json").read_text())
        assert figures["steps"] == 600
        assert figures["state"] == "active"
