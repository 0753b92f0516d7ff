"""Lockstep over real processes computes the simulator's run, number for number."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from entro_net.config import Fault, Law, ModelConfig
from entro_net.sim.simulator import RunSpec, Simulator
from tests.integration.conftest import Start, run_up

pytestmark = pytest.mark.integration

NODES = 5
STEPS = 200
SEED = 11
TOLERANCE = 1e-9


def read_trajectory(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = list(csv.DictReader(path.open()))
    psi = np.array([float(r["psi"]) for r in rows])
    weights = np.array([[float(r[w]) for w in ("w1", "w2", "w3")] for r in rows])
    return psi, weights


@pytest.mark.parametrize(
    ("law", "flags", "faults"),
    [
        (Law.LINEAR, [], ()),
        (Law.RESILIENT, ["--fault", "2:60:2.0"], (Fault(node=2, step=60, level=2.0),)),
        (Law.SEED, [], ()),
    ],
)
def test_lockstep_network_equals_the_simulator_for_five_nodes(
    processes: Start,
    tmp_path: Path,
    law: Law,
    flags: list[str],
    faults: tuple[Fault, ...],
) -> None:
    trajectories = tmp_path / "traj"
    summary = run_up(
        processes,
        tmp_path,
        "--clock", "lockstep",
        # A starved process must not be timed out: this test is about numbers.
        "--lockstep-wait", "20",
        "--nodes", str(NODES),
        "--steps", str(STEPS),
        "--seed", str(SEED),
        "--law", law.value,
        "--trajectory-dir", str(trajectories),
        *flags,
    )  # fmt: skip

    config = ModelConfig(law=law, faults=faults)
    sim = Simulator(config, [RunSpec(NODES)], STEPS, SEED, record=True).run()
    assert sim.psi is not None and sim.weights is not None
    for i in range(NODES):
        psi, weights = read_trajectory(trajectories / f"node-{i}.csv")
        assert psi.shape == (STEPS,)
        np.testing.assert_allclose(psi, sim.psi[0, :, i], rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(
            weights, sim.weights[0, :, i], rtol=0, atol=TOLERANCE
        )
    assert summary["var_last100"] == pytest.approx(sim.var_last(100)[0], abs=TOLERANCE)
    assert [
        (d["node"], d["step"], d["epoch"], d["kind"]) for d in summary["isolations"]
    ] == [(f"node-{d.node}", d.step, d.epoch, d.kind.value) for d in sim.decisions]
    assert all(node["state"] in ("active", "isolated") for node in summary["nodes"])
    assert all(node["steps"] == STEPS for node in summary["nodes"])
