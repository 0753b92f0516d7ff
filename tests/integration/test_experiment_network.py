"""`experiment --backend network` runs real lockstep networks and matches
the in-process simulator."""

import json
from pathlib import Path

import numpy as np
import pytest

from entro_net.cli.main import main
from entro_net.config import Disturbance, ModelConfig, Source
from entro_net.sim.network_backend import network_backend
from entro_net.sim.simulator import RunSpec

pytestmark = pytest.mark.integration


def _sweep(out: Path, backend: str) -> dict:
    status = main(
        [
            "experiment",
            "sweep",
            "--law",
            "seed",
            "--nodes",
            "3,4",
            "--steps",
            "60",
            "--repeats",
            "2",
            "--seed",
            "5",
            "--no-plot",
            "--backend",
            backend,
            "--out",
            str(out),
        ]
    )
    assert status == 0
    return json.loads((out / "sweep.json").read_text())


def test_network_sweep_equals_the_simulator_run_for_run(tmp_path: Path) -> None:
    network = _sweep(tmp_path / "network", "network")
    process = _sweep(tmp_path / "process", "process")

    assert network["backend"] == "network"
    for net_row, sim_row in zip(network["rows"], process["rows"], strict=True):
        assert net_row["nodes"] == sim_row["nodes"]
        assert net_row["runs"] == pytest.approx(sim_row["runs"], abs=1e-9)
        assert min(net_row["runs"]) > 1e-4


def _objectives(out: Path, backend: str) -> dict:
    status = main(
        [
            "experiment",
            "objectives",
            "--backend",
            backend,
            "--law",
            "resilient",
            "--nodes",
            "3",
            "--steps",
            "160",
            "--join-step",
            "60",
            "--fault-step",
            "40",
            "--repeats",
            "1",
            "--no-plot",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    return json.loads((out / "objectives.json").read_text())["laws"]["resilient"]


def test_network_objectives_run_every_batch_over_processes(
    tmp_path: Path,
) -> None:
    network = _objectives(tmp_path / "network", "network")
    process = _objectives(tmp_path / "process", "process")

    assert "Backend: network" in (tmp_path / "network" / "objectives.md").read_text()
    for key in ("figure", "baseline", "raw_var"):
        assert network["distributed_stability"][key] == pytest.approx(
            process["distributed_stability"][key], abs=1e-9
        )
    for key in ("protected", "healthy", "peak_healthy_psi", "readings_to_isolate"):
        assert network["fault_isolation"][key] == pytest.approx(
            process["fault_isolation"][key], abs=1e-9
        )
    assert len(network["networked_transfer"]["transfer_steps"]) == 1


def test_a_late_joiner_enters_over_the_network_after_its_step() -> None:
    config = ModelConfig(source=Source.PLANT, disturbance=Disturbance.LLM)
    result = network_backend(config, [RunSpec(3, 0, {2: 60})], 400, seed=0)

    assert result.weights is not None and result.taking_part is not None
    joiner = result.weights[0, :, 2, 0]
    came = int(np.flatnonzero(~np.isnan(joiner))[0])
    assert 60 <= came < 400
    assert np.all(np.isnan(joiner[:came]))
    assert not result.taking_part[0, :60, 2].any()
    assert result.taking_part[0, came:, 2].all()
    assert result.taking_part[0, :, :2].all()
