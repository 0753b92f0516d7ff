"""``entro-net up`` end to end: many nodes, traces, Ctrl-C, the summary."""

from __future__ import annotations

import json
import signal
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from entro_net.config import ModelConfig
from entro_net.sim.simulator import RunSpec, Simulator
from tests.integration.conftest import (
    Start,
    run_up,
    wait_exit,
    wait_for_file,
    wait_for_log,
)

pytestmark = pytest.mark.integration

NODE_KEYS = {"id", "state", "psi", "weights", "sent", "received", "dropped"}


def assert_reaped(summary: dict[str, Any]) -> None:
    for node in summary["nodes"]:
        assert not psutil.pid_exists(node["pid"]), f"{node['id']} not reaped"


def test_twenty_lockstep_nodes_run_800_scraper_steps_all_active(
    processes: Start, tmp_path: Path
) -> None:
    summary = run_up(
        processes, tmp_path,
        "--nodes", "20", "--steps", "800", "--source", "scraper",
        "--clock", "lockstep", "--seed", "4", "--lockstep-wait", "20",
        timeout_s=120.0,
    )  # fmt: skip
    nodes = summary["nodes"]
    assert len(nodes) == 20
    assert all(set(node) >= NODE_KEYS for node in nodes)
    assert {node["state"] for node in nodes} == {"active"}
    assert {node["steps"] for node in nodes} == {800}
    assert all(node["dropped"] == 0 for node in nodes)
    assert all(node["received"] > 19 * 800 for node in nodes)
    sim = Simulator(ModelConfig(), [RunSpec(20)], 800, 4).run()
    assert summary["var_last100"] == pytest.approx(sim.var_last(100)[0], abs=1e-9)
    for key in ("v_net", "theta_net", "isolations"):
        assert key in summary


def test_twenty_free_clock_nodes_all_stay_active(
    processes: Start, tmp_path: Path
) -> None:
    summary = run_up(
        processes, tmp_path,
        "--nodes", "20", "--steps", "200", "--source", "scraper", "--clock", "free",
        timeout_s=120.0,
    )  # fmt: skip
    nodes = summary["nodes"]
    assert {node["state"] for node in nodes} == {"active"}
    assert {node["steps"] for node in nodes} == {200}
    assert summary["var_last100"] is not None and summary["var_last100"] < 0.01


def write_trace(path: Path, values: list[float], start: datetime) -> list[str]:
    stamps = [
        (start + timedelta(minutes=5 * k)).strftime("%Y-%m-%d %H:%M:%S")
        for k in range(len(values))
    ]
    rows = [f"{t},{v}" for t, v in zip(stamps, values, strict=True)]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    return stamps


def test_trace_dir_replays_one_series_a_node_and_reports_anomaly_windows(
    processes: Start, tmp_path: Path
) -> None:
    traces = tmp_path / "traces"
    traces.mkdir()
    start = datetime(2014, 2, 14, 14, 30)
    spike = [20.0] * 30 + [99.0] * 10 + [20.0] * 20
    stamps = write_trace(traces / "a_cpu_utilization.csv", spike, start)
    write_trace(traces / "b_cpu_utilization.csv", [25.0] * 60, start)
    write_trace(traces / "c_cpu_utilization.csv", [30.0] * 40, start)
    windows = {
        "a_cpu_utilization.csv": [[stamps[28] + ".000000", stamps[45] + ".000000"]],
        "b_cpu_utilization.csv": [[stamps[10] + ".000000", stamps[20] + ".000000"]],
        "c_cpu_utilization.csv": [],
    }
    (traces / "anomaly_windows.json").write_text(json.dumps(windows))

    summary = run_up(
        processes, tmp_path,
        "--source", "trace", "--trace-dir", str(traces), "--clock", "lockstep",
    )  # fmt: skip
    nodes = {node["trace"]: node for node in summary["nodes"]}
    assert len(nodes) == 3
    assert nodes["a_cpu_utilization.csv"]["steps"] == 60
    assert nodes["c_cpu_utilization.csv"]["steps"] == 40
    assert nodes["c_cpu_utilization.csv"]["leave_reason"] == "trace_ended"

    isolates = [d for d in summary["isolations"] if d["kind"] == "isolate"]
    assert [(d["node"], d["step"]) for d in isolates] == [("node-0", 32)]
    report = summary["anomalies"]
    assert report["windows"] == 2
    assert report["windows_with_isolation"] == 1
    assert report["isolations_in_window"][0]["timestamp"] == stamps[32]
    assert report["windows_without_isolation"] == [
        {"file": "b_cpu_utilization.csv", "window": windows["b_cpu_utilization.csv"][0]}
    ]


def test_ctrl_c_stops_every_node_cleanly_and_still_writes_the_summary(
    processes: Start, tmp_path: Path
) -> None:
    ready = tmp_path / "ready.json"
    summary_path = tmp_path / "summary.json"
    up = processes(
        "up", "--nodes", "3", "--port", "0", "--ready-file", str(ready), "--plain",
        "--summary-json", str(summary_path), "--log-dir", str(tmp_path / "logs"),
        log_name="up.log",
    )  # fmt: skip
    wait_for_file(ready, 30.0)
    wait_for_log(tmp_path / "up.log", "nodes 3/3", 60.0)
    up.send_signal(signal.SIGINT)
    assert wait_exit(up, 30.0) == 130
    summary = json.loads(summary_path.read_text())
    assert summary["stopped_by"] == "sigint"
    assert [node["leave_reason"] for node in summary["nodes"]] == ["sigterm"] * 3
    assert all(node["steps"] > 0 for node in summary["nodes"])
    assert_reaped(summary)


def test_health_answers_while_the_coordinator_runs(
    processes: Start, tmp_path: Path
) -> None:
    ready = tmp_path / "ready.json"
    coordinator = processes(
        "coordinator", "--port", "0", "--ready-file", str(ready),
        "--bind-host", "127.0.0.1", log_name="coordinator.log",
    )  # fmt: skip
    port = str(wait_for_file(ready, 20.0)["port"])
    assert wait_exit(processes("health", "--port", port), 20.0) == 0

    coordinator.terminate()
    assert wait_exit(coordinator, 10.0) == 0
    probe = processes("health", "--port", port, "--timeout", "0.5")
    assert wait_exit(probe, 20.0) == 1


@pytest.mark.parametrize(("level", "info_lines"), [(None, False), ("info", True)])
def test_up_logs_warnings_unless_asked_and_says_where_its_files_are(
    processes: Start, tmp_path: Path, level: str | None, info_lines: bool
) -> None:
    flags = ["--nodes", "2", "--steps", "5", "--log-json"]
    if level is not None:
        flags += ["--log-level", level]
    run_up(processes, tmp_path, *flags)
    lines = (tmp_path / "up.log").read_text().splitlines()
    levels = {json.loads(x)["level"] for x in lines if x.startswith("{")}
    assert ("info" in levels) is info_lines
    assert f"node logs and figures: {tmp_path / 'logs'}" in lines
    # The node logs are files: they keep info events whatever up shows.
    assert "node_listening" in (tmp_path / "logs" / "node-0.log").read_text()
