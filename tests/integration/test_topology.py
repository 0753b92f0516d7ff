"""Hub and mesh, fork and spawn: the same network, and the figures it reports."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from entro_net.config import ModelConfig
from entro_net.sim.simulator import RunSpec, Simulator
from tests.integration.conftest import Start, run_up

pytestmark = pytest.mark.integration


def test_lockstep_through_the_hub_equals_the_simulator(
    processes: Start, tmp_path: Path
) -> None:
    trajectories = tmp_path / "traj"
    summary = run_up(
        processes, tmp_path,
        "--topology", "hub", "--clock", "lockstep", "--lockstep-wait", "20",
        "--nodes", "4", "--steps", "80", "--seed", "5",
        "--trajectory-dir", str(trajectories),
    )  # fmt: skip

    sim = Simulator(ModelConfig(), [RunSpec(4)], 80, 5, record=True).run()
    assert sim.psi is not None
    for i in range(4):
        rows = list(csv.DictReader((trajectories / f"node-{i}.csv").open()))
        psi = np.array([float(r["psi"]) for r in rows])
        np.testing.assert_allclose(psi, sim.psi[0, :, i], rtol=0, atol=1e-9)
    assert summary["topology"] == "hub"
    assert all(node["hub"]["batches"] > 0 for node in summary["nodes"])


def test_a_free_run_reports_delays_loss_cost_and_start_up(
    processes: Start, tmp_path: Path
) -> None:
    # 4 s: the steady window opens a second after a node heard every peer,
    # which under a loaded machine can take a while.
    summary = run_up(
        processes, tmp_path, "--nodes", "4", "--rate", "20", "--steps", "80"
    )

    traffic = summary["traffic"]
    assert summary["topology"] == "hub" and summary["startup"]["launcher"] == "fork"
    assert traffic["states_received"] > 0.8 * 4 * 3 * 80
    assert traffic["loss_pct"] < 1.0
    assert 0.0 < traffic["latency_p50_ms"] <= traffic["latency_p99_ms"]
    assert summary["startup"]["all_active_s"] > 0.0
    # Steady delays: from a second after a node heard every peer until it
    # leaves, a part of the whole run's.
    assert 0.0 < traffic["steady_latency_p50_ms"] <= traffic["steady_latency_p99_ms"]
    for node in summary["nodes"]:
        assert node["latency"]["count"] > 0
        assert 0 < node["latency_steady"]["count"] < node["latency"]["count"]
        assert node["loss"]["missing"] == 0
        assert 0.0 < node["cpu_share"] < 1.0
        assert node["rss_peak_mb"] > 10.0


def test_spawned_nodes_in_a_mesh_run_to_the_end(
    processes: Start, tmp_path: Path
) -> None:
    summary = run_up(
        processes, tmp_path,
        "--launcher", "spawn", "--topology", "mesh",
        "--nodes", "3", "--rate", "20", "--steps", "30",
    )  # fmt: skip

    assert summary["topology"] == "mesh"
    assert summary["startup"]["launcher"] == "spawn"
    assert [node["steps"] for node in summary["nodes"]] == [30, 30, 30]
    assert all(node["hub"] is None for node in summary["nodes"])
    assert summary["traffic"]["states_received"] > 0
