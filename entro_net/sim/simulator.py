"""The in-process simulator: many runs of the network at once, one numpy step.

Runs of different sizes are stacked on one axis and padded to the largest;
absent nodes are masked out. Every formula comes from ``entro_net.model``,
the same code a node process runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from entro_net.config import (
    FAULT_MIN_COUNT,
    FAULT_WINDOW,
    PLANT_DT_S,
    PLANT_NOISE_STD,
    PLANT_PHASE_SPAN_S,
    PSI_TARGET,
    THETA_WINDOW,
    WEIGHTS_START,
    Law,
    ModelConfig,
    Source,
)
from entro_net.errors import ConfigError
from entro_net.model.aew import AewState, Derivatives, aew_step
from entro_net.model.isolation import Decision, IsolationState
from entro_net.model.network import NetworkState, network_step, v_net
from entro_net.model.rng import Purpose, node_stream
from entro_net.model.sources import (
    OPEN_LOOP_SOURCES,
    PlantState,
    apply_faults,
    open_loop_reading,
    plant_advance,
)
from entro_net.model.sparse import circulant_neighbours, sparse_sync
from entro_net.model.sync import (
    SeedLawState,
    check_kappa,
    count,
    linear_sync,
    masked_mean,
    masked_var,
    resilient_sync,
    seed_alpha_advance,
    seed_alpha_target,
    seed_exchange,
)
from entro_net.model.threshold import clip_theta

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
        learn: bool = True,
        whole_run: bool = True,
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
        self.learn = learn
        self.whole_run = whole_run

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
        """Simulate every run; returns the per-step figures.

        Open-loop sources (scraper, phase_shift, trace) take no feedback
        from the sync, so with ``whole_run`` every step is computed at once
        along a time axis; only α, the isolation rule (when it fires) and
        the weights run step by step. The plant and host sources run one
        step at a time. Both paths call the same model functions.
        """
        if self.whole_run and self.config.source in (*OPEN_LOOP_SOURCES, Source.TRACE):
            return self._run_open_loop()
        return self._run_stepwise()

    def _run_stepwise(self) -> SimResult:
        """Simulate one step of every run at a time."""
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
            if self.learn:
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

    def _run_open_loop(self) -> SimResult:
        """Simulate every step of every run at once (open-loop sources).

        Runs are grouped by size so no array is padded; only α of the seed
        law and the weights are stepped, over all runs together.
        """
        config = self.config
        exists, join = self._layout()
        runs, width = exists.shape
        if config.source is Source.TRACE:
            table, trace_len = self._trace_table(exists.shape)
        started = time.perf_counter()

        groups: dict[int, list[int]] = {}
        for b, spec in enumerate(self.runs):
            groups.setdefault(spec.n_nodes, []).append(b)
        parts = []
        decisions: list[Decision] = []
        for n, members in groups.items():
            rows = np.asarray(members)
            if config.source is Source.TRACE:
                raw, present = self._trace_steps(table, trace_len, rows, n)
            else:
                raw, present = self._open_loop_steps(rows, join, n)
            taking_part, made = self._isolate_all(raw, present)
            decisions += [replace(d, run=int(rows[d.run])) for d in made]
            parts.append((rows, raw, present, taking_part))

        synced_parts = self._sync_groups([(raw, tp) for _, raw, _, tp in parts])
        var = np.zeros((runs, self.steps))
        error = np.zeros_like(var)
        vnet = np.zeros_like(var)
        n_part = np.zeros((runs, self.steps), dtype=np.int64)
        for (rows, _, _, taking_part), synced in zip(parts, synced_parts, strict=True):
            var[rows] = masked_var(synced, taking_part)
            error[rows] = masked_mean(synced - PSI_TARGET, taking_part)
            vnet[rows] = v_net(synced, taking_part)
            n_part[rows] = count(taking_part)
        theta_next = self._thresholds(var)
        start = np.full((runs, 1), float(clip_theta(config.theta_base)))
        theta = np.concatenate([start, theta_next[:, :-1]], axis=1)

        # Open-loop readings never depend on the weights, so they are only
        # learned when the result records them; nothing else could see them.
        padded = None
        weights = None
        if self.record:
            padded = self._pad(parts, synced_parts, width)
        if self.record and self.learn:
            assert padded is not None
            raw_all, synced_all, present_all, part_all = padded
            weights = self._learn_all(raw_all, synced_all, present_all, part_all, error)
        record = padded if self.record else None
        return SimResult(
            var=var,
            v_net=vnet,
            theta_net=theta,
            n_taking_part=n_part,
            decisions=decisions,
            compute_seconds=time.perf_counter() - started,
            psi=record[1] if record else None,
            raw=record[0] if record else None,
            taking_part=record[3] if record else None,
            weights=weights if self.record else None,
        )

    def _open_loop_steps(
        self, rows: NDArray[np.int64], join: NDArray[np.int64], n: int
    ) -> tuple[Array, Mask]:
        """Raw readings and presence of runs ``rows`` (all of size n), by step."""
        steps = np.arange(self.steps)
        uniform = np.zeros((len(rows), self.steps, n))
        for g, b in enumerate(rows):
            spec = self.runs[int(b)]
            for i in range(n):
                first = int(join[b, i])
                if first < self.steps:
                    uniform[g, first:, i] = node_draws(
                        self.seed, spec, i, Purpose.READING, self.steps - first, False
                    )
        present = join[rows][:, None, :n] <= steps[None, :, None]
        raw = open_loop_reading(self.config.source, steps[None, :, None], uniform)
        return self._with_faults(raw, n), present

    def _trace_steps(
        self,
        table: Array,
        trace_len: NDArray[np.int64],
        rows: NDArray[np.int64],
        n: int,
    ) -> tuple[Array, Mask]:
        """Trace readings and presence (until each series ends), by step."""
        steps = np.arange(self.steps)
        raw = np.zeros((len(rows), self.steps, n))
        shown = min(self.steps, table.shape[2])
        raw[:, :shown] = table[rows, :n, :shown].transpose(0, 2, 1)
        present = steps[None, :, None] < trace_len[rows][:, None, :n]
        return self._with_faults(raw, n), present

    def _with_faults(self, raw: Array, n: int) -> Array:
        """Apply every fault (reading LEVEL from STEP on) to a step table."""
        for fault in self.config.faults:
            if fault.node < n and fault.step < self.steps:
                raw[:, fault.step :, fault.node] = fault.level
        return raw

    def _pad(
        self,
        parts: list[tuple[NDArray[np.int64], Array, Mask, Mask]],
        synced_parts: list[Array],
        width: int,
    ) -> tuple[Array, Array, Mask, Mask]:
        """Stack the groups back into (run, step, node) tables."""
        shape = (len(self.runs), self.steps, width)
        raw, synced = np.zeros(shape), np.zeros(shape)
        present, taking_part = np.zeros(shape, bool), np.zeros(shape, bool)
        for (rows, r, p, tp), s in zip(parts, synced_parts, strict=True):
            n = r.shape[2]
            raw[rows, :, :n], synced[rows, :, :n] = r, s
            present[rows, :, :n], taking_part[rows, :, :n] = p, tp
        return raw, synced, present, taking_part

    def _isolate_all(self, raw: Array, present: Mask) -> tuple[Mask, list[Decision]]:
        """Who takes part at every step, and the decisions that made it so.

        When no node ever has 3 of 5 readings over Ψ_critical the rule never
        fires; otherwise it runs step by step (it needs only the readings).
        Presence is contiguous here (join, then stay until the trace ends),
        so a window over steps is a window over the node's own readings.
        """
        config = self.config
        if not config.isolation:
            return present, []
        high = raw > config.psi_critical
        if not np.any(high):
            return present, []
        over = (present & high).astype(np.int64)
        total = np.cumsum(over, axis=1)
        lagged = np.zeros_like(total)
        lagged[:, FAULT_WINDOW:] = total[:, :-FAULT_WINDOW]
        if np.max(total - lagged, initial=0) < FAULT_MIN_COUNT:
            return present, []
        state = IsolationState.start((raw.shape[0], raw.shape[2]))
        taking_part = np.zeros_like(present)
        decisions: list[Decision] = []
        for k in range(raw.shape[1]):
            decisions += state.step(
                raw[:, k],
                present[:, k],
                k,
                psi_critical=config.psi_critical,
                readmit_below=config.readmit_below,
                readmit_after=config.readmit_after,
            )
            taking_part[:, k] = present[:, k] & ~state.isolated
        return taking_part, decisions

    def _sync_groups(self, groups: list[tuple[Array, Mask]]) -> list[Array]:
        """The sync law applied to every step of every group at once."""
        config = self.config
        if not config.exchange:
            return [raw.copy() for raw, _ in groups]
        if config.law is Law.LINEAR and config.degree is not None:
            return [self._sparse_all(raw, tp, config.degree) for raw, tp in groups]
        if config.law is Law.LINEAR:
            out = []
            for raw, taking_part in groups:
                n = count(taking_part)
                if config.kappa == "auto":
                    kappa = 1.0 / np.maximum(n, 1)
                else:
                    kappa = np.full(n.shape, float(config.kappa))
                out.append(linear_sync(raw, taking_part, kappa))
            return out
        if config.law is Law.RESILIENT:
            return [resilient_sync(raw, tp, config.tolerate) for raw, tp in groups]

        targets = []
        for raw, taking_part in groups:
            var_raw = masked_var(raw, taking_part)
            first = np.ones((raw.shape[0], 1))
            var_prev = np.concatenate([first, var_raw[:, :-1]], axis=1)
            targets.append(seed_alpha_target(raw, taking_part, var_prev)[0])
        target = np.concatenate(targets, axis=0)
        law = SeedLawState.start(target.shape[0])
        alpha = np.empty_like(target)
        for k in range(target.shape[1]):
            seed_alpha_advance(law, target[:, k])
            alpha[:, k] = law.alpha
        out = []
        offset = 0
        for raw, taking_part in groups:
            rows = slice(offset, offset + raw.shape[0])
            offset += raw.shape[0]
            n_max = int(np.max(count(taking_part), initial=1))
            kappa = np.full(alpha[rows].shape, config.kappa_for(n_max))
            out.append(seed_exchange(raw, taking_part, kappa, alpha[rows]))
        return out

    @staticmethod
    def _sparse_all(raw: Array, taking_part: Mask, degree: int) -> Array:
        """The sparse-graph law over every step, a block of steps at a time
        (a block's (step, node, neighbour) tables stay around 16 MB)."""
        neighbours = circulant_neighbours(raw.shape[2], degree)
        block = max(1, (2 << 20) // max(1, raw.shape[0] * neighbours.size))
        synced = np.empty_like(raw)
        for start in range(0, raw.shape[1], block):
            steps = slice(start, start + block)
            synced[:, steps] = sparse_sync(
                raw[:, steps], taking_part[:, steps], neighbours
            )
        return synced

    def _thresholds(self, var: Array) -> Array:
        """θ_net set at the end of every step: mean Var of the last ≤ 20 steps."""
        total = np.cumsum(var, axis=1)
        lagged = np.zeros_like(total)
        lagged[:, THETA_WINDOW:] = total[:, :-THETA_WINDOW]
        known = np.minimum(np.arange(1, var.shape[1] + 1), THETA_WINDOW)
        mean = (total - lagged) / known
        return clip_theta(self.config.theta_base + self.config.gamma * mean)

    def _learn_all(
        self,
        raw: Array,
        synced: Array,
        present: Mask,
        taking_part: Mask,
        error: Array,
    ) -> Array:
        """Every node's weights at every step (Collective-AEW, step by step)."""
        runs, steps, width = raw.shape
        aew = AewState.start((runs, width), self.config.beta)
        derivatives = Derivatives.start((runs, width))
        weights = np.zeros((runs, steps, width, 3))
        for k in range(steps):
            if k > 0:
                joining = present[:, k] & ~present[:, k - 1]
                if np.any(joining):
                    self._welcome(aew, joining, taking_part[:, k - 1], None)
            d1, d2 = derivatives.push(raw[:, k], present[:, k])
            aew_step(
                aew,
                synced[:, k],
                d1,
                d2,
                error[:, k, None],
                present[:, k],
                self.config.eta,
            )
            weights[:, k] = aew.weights
        return weights

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
