"""Run an experiment's batch over real processes: one lockstep network a run.

Each run starts ``entro-net up --clock lockstep`` (a coordinator and N node
processes on loopback) with the run's seed, repeat and exact model, reads
every node's trajectory back and returns the same figures the simulator
does, so ``experiment --backend network`` prints the same tables.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from entro_net.config import ModelConfig, Source
from entro_net.errors import ConfigError, EntroNetError
from entro_net.model.isolation import Decision, DecisionKind
from entro_net.model.network import v_net
from entro_net.model.sync import count, masked_var
from entro_net.sim.simulator import RunSpec, SimResult

log = structlog.get_logger()

RUN_TIMEOUT_S = 3600.0
"""The longest one network run may take before it is stopped."""


class NetworkRunError(EntroNetError):
    """A network run did not finish or left no trajectory."""


def up_command(
    config: ModelConfig,
    spec: RunSpec,
    steps: int,
    seed: int,
    workdir: Path,
    trace_dir: Path | None,
) -> list[str]:
    """The ``entro-net up`` command line of one run."""
    command = [
        sys.executable,
        "-m",
        "entro_net",
        "up",
        "--clock",
        "lockstep",
        "--plain",
        "--port",
        "0",
        "--nodes",
        str(spec.n_nodes),
        "--steps",
        str(steps),
        "--seed",
        str(seed),
        "--repeat",
        str(spec.repeat),
        "--model-json",
        config.model_dump_json(),
        "--summary-json",
        str(workdir / "summary.json"),
        "--trajectory-dir",
        str(workdir / "trajectories"),
        "--log-dir",
        str(workdir / "logs"),
    ]
    if trace_dir is not None:
        command += ["--source", "trace", "--trace-dir", str(trace_dir)]
    for node, step in spec.join_step.items():
        command += ["--late", f"{node}:{step}"]
    return command


def read_trajectory(path: Path, steps: int) -> dict[str, np.ndarray]:
    """One node's per-step columns (NaN where the node took no step)."""
    table = {
        name: np.full(steps, np.nan)
        for name in ("psi_raw", "psi", "w1", "w2", "w3", "theta_net", "isolated")
    }
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            step = int(row["step"])
            if 0 <= step < steps:
                for name in table:
                    value = row[name]
                    if value in ("True", "False"):
                        table[name][step] = float(value == "True")
                    else:
                        table[name][step] = float(value)
    return table


def run_one(
    config: ModelConfig,
    spec: RunSpec,
    steps: int,
    seed: int,
    trace_dir: Path | None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Run one network; return its (step, node) tables and its summary."""
    with tempfile.TemporaryDirectory(prefix="entro-net-run-") as tmp:
        workdir = Path(tmp)
        command = up_command(config, spec, steps, seed, workdir, trace_dir)
        started = time.monotonic()
        done = subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        log.info(
            "network_run_done",
            nodes=spec.n_nodes,
            repeat=spec.repeat,
            status=done.returncode,
            seconds=round(time.monotonic() - started, 2),
        )
        if done.returncode != 0:
            tail = " / ".join(done.stderr.strip().splitlines()[-3:])
            raise NetworkRunError(
                f"entro-net up (N={spec.n_nodes}, repeat {spec.repeat}) "
                f"exited {done.returncode}: {tail}"
            )
        summary = json.loads((workdir / "summary.json").read_text())
        columns: dict[str, list[np.ndarray]] = {}
        for index in range(spec.n_nodes):
            path = workdir / "trajectories" / f"node-{index}.csv"
            if not path.exists():
                raise NetworkRunError(f"node-{index} wrote no trajectory")
            for name, values in read_trajectory(path, steps).items():
                columns.setdefault(name, []).append(values)
    return {k: np.stack(v, axis=1) for k, v in columns.items()}, summary


def network_backend(
    config: ModelConfig,
    runs: list[RunSpec],
    steps: int,
    seed: int,
    trace_dir: Path | None = None,
) -> SimResult:
    """Every run of the batch as a real lockstep network, one after another."""
    if config.source is Source.HOST:
        raise ConfigError("--backend network does not run the host source")
    width = max(spec.n_nodes for spec in runs)
    shape = (len(runs), steps, width)
    psi, raw = np.zeros(shape), np.zeros(shape)
    taking_part = np.zeros(shape, dtype=bool)
    weights = np.zeros((*shape, 3))
    theta = np.zeros((len(runs), steps))
    decisions: list[Decision] = []
    started = time.perf_counter()
    for b, spec in enumerate(runs):
        table, summary = run_one(config, spec, steps, seed, trace_dir)
        n = spec.n_nodes
        present = ~np.isnan(table["psi"])
        psi[b, :, :n] = np.nan_to_num(table["psi"])
        raw[b, :, :n] = np.nan_to_num(table["psi_raw"])
        taking_part[b, :, :n] = present & (np.nan_to_num(table["isolated"]) == 0)
        # Weights stay NaN where a node took no step (a late joiner before it
        # came): no adaptation is counted there.
        weights[b, :, :n] = np.stack([table["w1"], table["w2"], table["w3"]], axis=-1)
        theta[b] = np.nanmax(np.where(present, table["theta_net"], np.nan), axis=1)
        decisions += [
            Decision(
                DecisionKind(item["kind"]),
                int(str(item["node"]).rsplit("-", 1)[-1]),
                int(item["step"]),
                int(item["epoch"]),
                b,
            )
            for item in summary.get("isolations", [])
        ]
    return SimResult(
        var=masked_var(psi, taking_part),
        v_net=v_net(psi, taking_part),
        theta_net=theta,
        n_taking_part=count(taking_part),
        decisions=decisions,
        compute_seconds=time.perf_counter() - started,
        psi=psi,
        raw=raw,
        taking_part=taking_part,
        weights=weights,
    )
