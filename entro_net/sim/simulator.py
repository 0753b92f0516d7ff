"""The in-process simulator: many runs of the network at once, one numpy step.

Runs of different sizes are stacked on one axis and padded to the largest;
absent nodes are masked out. Every formula comes from ``entro_net.model``,
the same code a node process runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from entro_net.config import (
    PLANT_DT_S,
    PLANT_NOISE_STD,
    PLANT_PHASE_SPAN_S,
    WEIGHTS_START,
    Law,
    ModelConfig,
    Source,
)
from entro_net.errors import ConfigError
from entro_net.model.aew import AewState, Derivatives, aew_step
from entro_net.model.isolation import Decision
from entro_net.model.network import NetworkState, network_step
from entro_net.model.rng import Purpose, node_stream
from entro_net.model.sources import (
    OPEN_LOOP_SOURCES,
    PlantState,
    apply_faults,
    open_loop_reading,
    plant_advance,
)
from entro_net.model.sync import check_kappa

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


@dataclass(frozen=True)
class RunSpec:
    """One run: its size, its repeat number and when late nodes join."""

    n_nodes: int
    repeat: int = 0
    join_step: dict[int, int] = field(default_factory=dict)


@dataclass
class SimResult:
    """Per-step figures of every run (first axis: run, second: step)."""

    var: Array
    v_net: Array
    theta_net: Array
    n_taking_part: NDArray[np.int64]
    decisions: list[Decision]
    compute_seconds: float
    psi: Array | None = None
    raw: Array | None = None
    taking_part: Mask | None = None
    weights: Array | None = None

    def var_last(self, steps: int = 100) -> Array:
        """Each run's mean Var over its last ``steps`` steps."""
        return np.asarray(np.mean(self.var[:, -steps:], axis=1))


def node_draws(
    seed: int, spec: RunSpec, node: int, purpose: Purpose, steps: int, normal: bool
) -> Array:
    """Node ``node``'s draws for ``steps`` steps, in the order a node draws."""
    stream = node_stream(seed, spec.n_nodes, spec.repeat, node, purpose)
    if normal:
        return stream.normal(0.0, PLANT_NOISE_STD, steps)
    return stream.random(steps)


def phase_offset(seed: int, spec: RunSpec, node: int) -> float:
    """Node ``node``'s plant phase offset φ_i in [0, 20) seconds."""
    stream = node_stream(seed, spec.n_nodes, spec.repeat, node, Purpose.PHASE)
    return float(stream.uniform(0.0, PLANT_PHASE_SPAN_S))


class Simulator:
    """Runs the network of MODEL.md for a batch of runs, step by step."""

    def __init__(
        self,
        config: ModelConfig,
        runs: Sequence[RunSpec],
        steps: int,
        seed: int = 0,
        *,
        traces: Sequence[Array] | None = None,
        host_reading: Callable[[], float] | None = None,
        record: bool = False,
    ) -> None:
        if steps <= 0:
            raise ConfigError(f"steps must be > 0, got {steps}")
        if not runs:
            raise ConfigError("no runs to simulate")
        for spec in runs:
            if spec.n_nodes < 2:
                raise ConfigError(
                    f"a network needs at least 2 nodes, got {spec.n_nodes}"
                )
            if config.law is Law.LINEAR and config.kappa != "auto":
                check_kappa(float(config.kappa), spec.n_nodes, force=config.force_kappa)
        if config.source is Source.TRACE and traces is None:
            raise ConfigError("the trace source needs one series per node")
        if config.source is Source.HOST and host_reading is None:
            raise ConfigError("the host source needs a pressure reader")
        self.config = config
        self.runs = list(runs)
        self.steps = steps
        self.seed = seed
        self.traces = traces
        self.host_reading = host_reading
        self.record = record

    def _layout(self) -> tuple[Mask, NDArray[np.int64]]:
        """Which columns are real nodes, and each node's join step."""
        width = max(spec.n_nodes for spec in self.runs)
        exists = np.zeros((len(self.runs), width), dtype=bool)
        join = np.zeros((len(self.runs), width), dtype=np.int64)
        for b, spec in enumerate(self.runs):
            exists[b, : spec.n_nodes] = True
            for node, step in spec.join_step.items():
                join[b, node] = step
        return exists, join

    def _draws(self, exists: Mask, join: NDArray[np.int64], purpose: Purpose) -> Array:
        """Every node's draws, aligned so column k is what it draws at step k."""
        normal = purpose is Purpose.PLANT
        out = np.zeros((*exists.shape, self.steps))
        for b, spec in enumerate(self.runs):
            for i in range(spec.n_nodes):
                first = int(join[b, i])
                if first < self.steps:
                    out[b, i, first:] = node_draws(
                        self.seed, spec, i, purpose, self.steps - first, normal
                    )
        return out

    def run(self) -> SimResult:
        """Simulate every run; returns the per-step figures."""
        config = self.config
        exists, join = self._layout()
        shape = exists.shape
        node_index = np.broadcast_to(np.arange(shape[1]), shape)
        if config.source is Source.TRACE:
            trace_psi, trace_len = self._trace_table(shape)
        started = time.perf_counter()

        plant = config.source is Source.PLANT
        if plant:
            noise = self._draws(exists, join, Purpose.PLANT)
            phase = np.zeros(shape)
            if config.phase_offset:
                for b, spec in enumerate(self.runs):
                    for i in range(spec.n_nodes):
                        phase[b, i] = phase_offset(self.seed, spec, i)
            plant_state = PlantState.start(shape)
        elif config.source in OPEN_LOOP_SOURCES:
            uniform = self._draws(exists, join, Purpose.READING)

        net = NetworkState.start(shape[0], shape[1], config)
        aew = AewState.start(shape, config.beta)
        derivatives = Derivatives.start(shape)
        was_present = np.zeros(shape, dtype=bool)

        var = np.zeros((shape[0], self.steps))
        vnet = np.zeros_like(var)
        theta = np.zeros_like(var)
        n_part = np.zeros((shape[0], self.steps), dtype=np.int64)
        decisions: list[Decision] = []
        psi_rec = np.zeros((shape[0], self.steps, shape[1])) if self.record else None
        raw_rec = np.zeros_like(psi_rec) if self.record else None
        part_rec = (
            np.zeros((shape[0], self.steps, shape[1]), dtype=bool)
            if self.record
            else None
        )
        w_rec = np.zeros((shape[0], self.steps, shape[1], 3)) if self.record else None
        last_part = np.zeros(shape, dtype=bool)

        for k in range(self.steps):
            present = exists & (join <= k)
            if config.source is Source.TRACE:
                present &= k < trace_len
            joining = present & ~was_present & (k > 0)
            if np.any(joining):
                self._welcome(aew, joining, last_part, plant_state if plant else None)
            was_present = present

            if plant:
                t = k * PLANT_DT_S + phase
                before = (plant_state.psi, plant_state.v, plant_state.a)
                plant_advance(
                    plant_state,
                    net.theta_net[:, None],
                    aew.weights,
                    t,
                    noise[:, :, k],
                    config.disturbance,
                )
                plant_state.psi = np.where(present, plant_state.psi, before[0])
                plant_state.v = np.where(present, plant_state.v, before[1])
                plant_state.a = np.where(present, plant_state.a, before[2])
                raw = plant_state.psi
            elif config.source is Source.TRACE:
                raw = trace_psi[:, :, min(k, trace_psi.shape[2] - 1)]
            elif config.source is Source.HOST:
                assert self.host_reading is not None
                raw = np.full(shape, self.host_reading())
            else:
                raw = open_loop_reading(config.source, k, uniform[:, :, k])
            raw = apply_faults(raw, k, config.faults, node_index)

            outcome = network_step(config, net, raw, present, k)
            synced = outcome.synced
            if plant:
                plant_state.psi = np.where(present, synced, plant_state.psi)
                d1, d2 = plant_state.v, plant_state.a
            else:
                d1, d2 = derivatives.push(raw, present)
            aew_step(
                aew,
                synced,
                d1,
                d2,
                outcome.network_error[:, None],
                present,
                config.eta,
            )
            last_part = outcome.taking_part

            var[:, k] = outcome.var
            vnet[:, k] = outcome.v_net
            theta[:, k] = outcome.theta_in_force
            n_part[:, k] = np.sum(outcome.taking_part, axis=1)
            decisions.extend(outcome.decisions)
            if psi_rec is not None:
                psi_rec[:, k] = synced
                raw_rec[:, k] = raw  # type: ignore[index]
                part_rec[:, k] = outcome.taking_part  # type: ignore[index]
                w_rec[:, k] = aew.weights  # type: ignore[index]

        return SimResult(
            var=var,
            v_net=vnet,
            theta_net=theta,
            n_taking_part=n_part,
            decisions=decisions,
            compute_seconds=time.perf_counter() - started,
            psi=psi_rec,
            raw=raw_rec,
            taking_part=part_rec,
            weights=w_rec,
        )

    def _welcome(
        self,
        aew: AewState,
        joining: Mask,
        taking_part: Mask,
        plant: PlantState | None,
    ) -> None:
        """A late joiner starts from the network's mean weights (or cold)."""
        start = np.broadcast_to(np.asarray(WEIGHTS_START), aew.weights.shape)
        if self.config.transfer:
            n = np.sum(taking_part, axis=1, keepdims=True)
            total = np.sum(np.where(taking_part[..., None], aew.weights, 0.0), axis=1)
            mean = np.divide(
                total,
                n,
                out=np.asarray(start[:, 0, :], dtype=float).copy(),
                where=n > 0,
            )
            start = np.broadcast_to(mean[:, None, :], aew.weights.shape)
        aew.restart(joining, np.asarray(start), self.config.beta)
        if plant is not None:
            fresh = PlantState.start(joining.shape)
            plant.psi = np.where(joining, fresh.psi, plant.psi)
            plant.v = np.where(joining, 0.0, plant.v)
            plant.a = np.where(joining, 0.0, plant.a)

    def _trace_table(self, shape: tuple[int, int]) -> tuple[Array, NDArray[np.int64]]:
        """Pad every node's Ψ series into one table; and each series' length."""
        assert self.traces is not None
        if len(self.traces) < shape[1]:
            raise ConfigError(
                f"{shape[1]} nodes need {shape[1]} trace series, got {len(self.traces)}"
            )
        longest = max(len(series) for series in self.traces[: shape[1]])
        table = np.zeros((*shape, max(longest, 1)))
        length = np.zeros(shape, dtype=np.int64)
        for i, series in enumerate(self.traces[: shape[1]]):
            table[:, i, : len(series)] = series
            length[:, i] = len(series)
        return table, length
