"""``entro-net up`` when one of its node processes dies: said at once, exit 1.

It used to exit 0 with a summary that still listed a SIGKILLed node as
``active``, and to wait the whole start timeout (60 s) silently for a node
that died while joining.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.integration.conftest import Start, wait_exit, wait_for_log

pytestmark = pytest.mark.integration


def _children(pid: int, count: int, timeout_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        kids = psutil.Process(pid).children()
        if len(kids) >= count:
            return kids
        time.sleep(0.02)
    raise AssertionError(f"up {pid} did not start {count} node processes")


def _up(processes: Start, tmp_path: Path, *flags: str) -> tuple[object, Path]:
    summary = tmp_path / "summary.json"
    proc = processes(
        "up", "--port", "0", "--plain", "--summary-json", str(summary),
        "--log-dir", str(tmp_path / "logs"), "--nodes", "3", *flags,
        log_name="up.log",
    )  # fmt: skip
    return proc, summary


def test_a_node_killed_mid_run_is_reported_dead_and_up_exits_1(
    processes: Start, tmp_path: Path
) -> None:
    proc, summary_path = _up(processes, tmp_path, "--steps", "120", "--clock", "free")
    wait_for_log(tmp_path / "up.log", "nodes 3/3", timeout_s=30.0)
    victim = _children(proc.pid, 3, 10.0)[0]  # type: ignore[attr-defined]
    victim.send_signal(signal.SIGKILL)

    code = wait_exit(proc, 60.0)  # type: ignore[arg-type]
    output = (tmp_path / "up.log").read_text()
    assert code == 1, output[-2000:]
    assert "exited with code -9" in output
    summary = json.loads(summary_path.read_text())
    states = {node["id"]: node["state"] for node in summary["nodes"]}
    dead = [node for node, state in states.items() if state == "dead"]
    assert len(dead) == 1, states
    assert summary["failed"][0]["node"] == dead[0]
    assert sum(state == "active" for state in states.values()) == 2


def test_a_node_dead_while_joining_does_not_hold_the_start_for_a_minute(
    processes: Start, tmp_path: Path
) -> None:
    proc, summary_path = _up(
        processes, tmp_path, "--steps", "30", "--clock", "lockstep"
    )
    logs = tmp_path / "logs"
    deadline = time.monotonic() + 20.0
    while len(list(logs.glob("node-*.log"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # every node was handed its command line
    victim = _children(proc.pid, 3, 20.0)[-1]  # type: ignore[attr-defined]
    victim.send_signal(signal.SIGKILL)
    began = time.monotonic()

    code = wait_exit(proc, 40.0)  # type: ignore[arg-type]
    output = (tmp_path / "up.log").read_text()
    assert time.monotonic() - began < 40.0
    assert code == 1, output[-2000:]
    assert "exited with code -9" in output
    summary = json.loads(summary_path.read_text())
    assert sorted(node.get("steps") or 0 for node in summary["nodes"])[1:] == [30, 30]


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)]
)
def test_up_stopped_by_a_signal_exits_with_the_shells_status(
    processes: Start, tmp_path: Path, signum: int, status: int
) -> None:
    proc, summary_path = _up(processes, tmp_path, "--clock", "free")
    wait_for_log(tmp_path / "up.log", "nodes 3/3", timeout_s=30.0)

    proc.send_signal(signum)  # type: ignore[attr-defined]

    assert wait_exit(proc, 30.0) == status  # type: ignore[arg-type]
    assert (
        json.loads(summary_path.read_text())["stopped_by"]
        == signal.Signals(signum).name.lower()
    )
