"""A recorded run replays to the run's own trajectories and figures; report draws it."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from entro_net.observe.trajectory import load_run
from tests.integration.conftest import Start, child_env, run_up

pytestmark = pytest.mark.integration

NODES = 4
STEPS = 80
FAULT = "1:30:2.0"


def entro_net(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "entro_net", *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def read_csv(path: Path) -> dict[int, dict[str, str]]:
    return {int(row["step"]): row for row in csv.DictReader(path.open())}


def test_a_replayed_recording_gives_the_runs_trajectories_and_figures(
    processes: Start, tmp_path: Path
) -> None:
    record = tmp_path / "run.rec"
    summary = run_up(
        processes,
        tmp_path,
        "--clock", "lockstep", "--nodes", str(NODES), "--steps", str(STEPS),
        "--fault", FAULT, "--record", str(record),
        "--trajectory-dir", str(tmp_path / "traj"),
    )  # fmt: skip

    run = load_run(record)

    assert run.clock.value == "lockstep"
    assert run.undecodable == 0 and run.torn_tail_bytes == 0
    for i in range(NODES):
        node = f"node-{i}"
        rows = read_csv(tmp_path / "traj" / f"{node}.csv")
        series = run.nodes[node]
        assert len(rows) == STEPS
        # every raw reading; every synced value but the last step's, which
        # no lockstep state carries (it would be sent at round STEPS)
        assert series.psi_raw == {k: float(r["psi_raw"]) for k, r in rows.items()}
        assert sorted(series.psi) == sorted(rows)[:-1]
        for step, psi in series.psi.items():
            assert psi == float(rows[step]["psi"])
            w = tuple(float(rows[step][c]) for c in ("w1", "w2", "w3"))
            assert series.weights[step] == w
    var = run.network.var
    assert len(var) == summary["steps"] == STEPS
    tail = [var[k] for k in sorted(var)[-100:]]
    assert sum(tail) / len(tail) == pytest.approx(summary["var_last100"], rel=1e-12)
    assert var[max(var)] == summary["var"]
    assert run.network.v_net[max(var)] == summary["v_net"]
    assert [(d.node, d.step, d.epoch, d.kind) for d in run.decisions] == [
        (d["node"], d["step"], d["epoch"], d["kind"]) for d in summary["isolations"]
    ]
    assert summary["isolations"], "the fault should have isolated node-1"

    # the same recording played into the live view, and drawn
    replay = entro_net("replay", str(record), "--speed", "0", "--plain")
    assert f"step {STEPS}" in replay.stdout
    assert "left=4" in replay.stdout
    report = entro_net("report", str(record), "--out", str(tmp_path / "report"))
    assert [Path(p).name for p in report.stdout.split()] == [
        "psi.png",
        "var.png",
        "isolation.png",
        "report.json",
    ]
