"""The seed's experiments (MODEL.md §8) as pure computation returning data.

The scaling sweep runs every N and repeat as one batch, then fits the
seed's linear and saturation models; the three objectives run every law
against the same seeds with the exchange (or transfer, or isolation) off.
Writing files and plots is ``entro_net.sim.report``'s job; the command line
only wires flags to these functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from entro_net.config import (
    ADAPTATION_TOLERANCE,
    LINEAR_FIT_MAX_NODES,
    MAX_SIM_CELLS,
    MAX_SWEEP_NODE_RUNS,
    OBJECTIVE_FAULT_LEVEL,
    OBJECTIVE_FAULT_STEP,
    OBJECTIVE_JOIN_STEP,
    PSI_ABS_MAX,
    STABILITY_MAX_RATIO,
    SWEEP_TAIL_STEPS,
    TRANSFER_MIN_REDUCTION,
    Fault,
    Law,
    ModelConfig,
)
from entro_net.errors import ConfigError
from entro_net.model.sync import masked_var
from entro_net.sim.fitting import SaturationFit, fit_saturation, r_squared
from entro_net.sim.simulator import RunSpec, SimResult, Simulator

Array = NDArray[np.float64]

VAR_ROUNDING_FLOOR = 1e-12
"""Variances under this are float rounding of zero: nothing to fit."""
FLAT_NOTE = (
    f"every variance is zero to float rounding (< {VAR_ROUNDING_FLOOR:g}): "
    "no model to fit"
)


def finite_or_none(value: float | None) -> float | None:
    """A float for JSON: None stands for an undefined or infinite figure."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


# --- the backends that run a batch --------------------------------------------


@dataclass(frozen=True)
class SourceInputs:
    """What the trace and host sources read from the edge."""

    traces: Sequence[Array] | None = None
    host_reading: Callable[[], float] | None = None
    trace_dir: Path | None = None


Backend = Callable[[ModelConfig, list[RunSpec], int, int, SourceInputs], SimResult]
"""Runs a batch: (config, runs, steps, seed, inputs) -> the per-step figures."""


def process_backend(
    config: ModelConfig,
    runs: list[RunSpec],
    steps: int,
    seed: int,
    inputs: SourceInputs,
) -> SimResult:
    """Run the batch in this process with the vectorised simulator."""
    simulator = Simulator(
        config,
        runs,
        steps,
        seed,
        traces=inputs.traces,
        host_reading=inputs.host_reading,
    )
    return simulator.run()


def network_backend(
    config: ModelConfig,
    runs: list[RunSpec],
    steps: int,
    seed: int,
    inputs: SourceInputs,
) -> SimResult:
    """Run the batch as real lockstep networks of node processes."""
    from entro_net.sim.network_backend import network_backend as run_network

    return run_network(config, runs, steps, seed, inputs.trace_dir)


BACKENDS: dict[str, Backend] = {"process": process_backend, "network": network_backend}
"""Backends by name; ``network`` (real node processes) plugs in here."""


def backend_for(name: str) -> Backend:
    """The backend called ``name``.

    Raises:
        ConfigError: there is no such backend.
    """
    if name in BACKENDS:
        return BACKENDS[name]
    raise ConfigError(
        f"--backend: unknown backend {name!r}, use one of {', '.join(BACKENDS)}"
    )


# --- the scaling sweep ---------------------------------------------------------


@dataclass(frozen=True)
class SweepPlan:
    """What to sweep: the model, the sizes, the run length and repeats."""

    config: ModelConfig
    nodes: list[int]
    steps: int
    repeats: int
    seed: int = 0

    def check(self) -> None:
        """Raise ConfigError (one line) for a plan that cannot run."""
        if not self.nodes:
            raise ConfigError("--nodes: no sizes given")
        if min(self.nodes) < 2:
            raise ConfigError(
                f"--nodes: a network needs at least 2 nodes, got {min(self.nodes)}"
            )
        if self.steps <= 0:
            raise ConfigError(f"--steps must be > 0, got {self.steps}")
        if self.repeats <= 0:
            raise ConfigError(f"--repeats must be > 0, got {self.repeats}")
        check_budget(self.nodes, self.repeats, self.steps)

    def runs(self) -> list[RunSpec]:
        """One run per size and repeat, sizes outermost."""
        return [RunSpec(n, r) for n in self.nodes for r in range(self.repeats)]


def check_budget(nodes: list[int], repeats: int, steps: int) -> None:
    """Refuse, in one line, a run that would not fit this machine.

    Raises:
        ConfigError: more node-runs than ``MAX_SWEEP_NODE_RUNS`` or more
            cells (runs × widest N × steps) than ``MAX_SIM_CELLS``.
    """
    node_runs = sum(nodes) * repeats
    if node_runs > MAX_SWEEP_NODE_RUNS:
        raise ConfigError(
            f"--nodes × --repeats asks for {node_runs} node-runs; at most "
            f"{MAX_SWEEP_NODE_RUNS} fit one run: fewer sizes or repeats"
        )
    cells = len(nodes) * repeats * max(nodes) * steps
    if cells > MAX_SIM_CELLS:
        gb = cells * 8 * 4 / 1e9
        raise ConfigError(
            f"--steps {steps} with these --nodes and --repeats needs about "
            f"{gb:.0f} GB ({cells:.2e} values, at most {MAX_SIM_CELLS:.0e}): "
            "fewer steps, sizes or repeats"
        )


@dataclass(frozen=True)
class SweepRow:
    """One size: mean and population std of the repeats' var_last100."""

    nodes: int
    mean: float
    std: float
    runs: list[float]


@dataclass(frozen=True)
class LinearFit:
    """``σ² = slope·N + intercept`` over the sizes N ≤ 15."""

    slope: float
    intercept: float
    r2: float | None
    max_nodes: int = LINEAR_FIT_MAX_NODES

    def predict(self, nodes: Array | float) -> Array:
        """The fit's σ² at ``nodes``."""
        return self.slope * np.asarray(nodes, dtype=float) + self.intercept


@dataclass(frozen=True)
class Prediction:
    """The linear fit's σ² beside the measured one, for a size past 15."""

    nodes: int
    predicted: float
    actual: float
    deviation_pct: float | None


@dataclass(frozen=True)
class Sweep:
    """The sweep's table, its fits and what produced them."""

    plan: SweepPlan
    rows: list[SweepRow]
    linear: LinearFit | None
    saturation: SaturationFit | None
    predictions: list[Prediction]
    compute_seconds: float
    backend: str = "process"
    fit_note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The content of ``sweep.json``."""
        return {
            "rows": [
                {"nodes": r.nodes, "mean": r.mean, "std": r.std, "runs": r.runs}
                for r in self.rows
            ],
            "fits": {
                "linear": None
                if self.linear is None
                else {
                    "max_nodes": self.linear.max_nodes,
                    "slope": self.linear.slope,
                    "intercept": self.linear.intercept,
                    "r2": self.linear.r2,
                },
                "saturation": None
                if self.saturation is None
                else {
                    "sigma2_max": self.saturation.sigma2_max,
                    "n0": self.saturation.n0,
                    "r2": self.saturation.r2,
                    "rmse": self.saturation.rmse,
                },
                "linear_predictions": [
                    {
                        "nodes": p.nodes,
                        "predicted": p.predicted,
                        "actual": p.actual,
                        "deviation_pct": p.deviation_pct,
                    }
                    for p in self.predictions
                ],
                "note": self.fit_note,
            },
            "compute_seconds": self.compute_seconds,
            "config": self.plan.config.model_dump(mode="json"),
            "steps": self.plan.steps,
            "repeats": self.plan.repeats,
            "seed": self.plan.seed,
            "law": self.plan.config.law.value,
            "source": self.plan.config.source.value,
            "backend": self.backend,
            "tail_steps": min(SWEEP_TAIL_STEPS, self.plan.steps),
        }


def simulate_sweep(
    plan: SweepPlan,
    backend: str = "process",
    inputs: SourceInputs | None = None,
) -> SimResult:
    """Run every size and repeat of ``plan`` as one batch.

    Raises:
        ConfigError: a bad plan, an unstable κ, a missing backend or input.
    """
    plan.check()
    run = backend_for(backend)
    return run(
        plan.config, plan.runs(), plan.steps, plan.seed, inputs or SourceInputs()
    )


def fit_linear(nodes: Array, means: Array) -> LinearFit | None:
    """Least squares line through the sizes N ≤ 15; None with fewer than 2."""
    small = nodes <= LINEAR_FIT_MAX_NODES
    if np.unique(nodes[small]).size < 2:
        return None
    slope, intercept = np.polyfit(nodes[small], means[small], 1)
    fit = LinearFit(float(slope), float(intercept), None)
    r2 = r_squared(means[small], fit.predict(nodes[small]))
    return LinearFit(float(slope), float(intercept), r2)


def linear_predictions(fit: LinearFit | None, rows: list[SweepRow]) -> list[Prediction]:
    """The linear fit against the measurement for every size past 15."""
    if fit is None:
        return []
    out = []
    for row in rows:
        if row.nodes <= fit.max_nodes:
            continue
        predicted = float(fit.predict(row.nodes))
        deviation = (
            100.0 * (row.mean - predicted) / predicted if predicted != 0.0 else None
        )
        out.append(
            Prediction(row.nodes, predicted, row.mean, finite_or_none(deviation))
        )
    return out


def summarise_sweep(
    plan: SweepPlan,
    result: SimResult,
    backend: str = "process",
    run: Callable[..., Any] | None = None,
) -> Sweep:
    """The table and both fits from a batch run by ``simulate_sweep``.

    ``run`` calls the saturation fit (a helper process's ``run``, where scipy
    is loaded already); by default it is called here.
    """
    tail = result.var_last(min(SWEEP_TAIL_STEPS, plan.steps))
    per_size = tail.reshape(len(plan.nodes), plan.repeats)
    rows = [
        SweepRow(
            nodes=n,
            mean=float(np.mean(runs)),
            std=float(np.std(runs)),
            runs=[float(x) for x in runs],
        )
        for n, runs in zip(plan.nodes, per_size, strict=True)
    ]
    nodes = np.asarray(plan.nodes, dtype=float)
    means = np.asarray([r.mean for r in rows])
    flat = float(np.max(np.abs(means))) < VAR_ROUNDING_FLOOR
    linear = None if flat else fit_linear(nodes, means)
    return Sweep(
        plan=plan,
        rows=rows,
        linear=linear,
        saturation=None
        if flat
        else (
            run(fit_saturation, nodes, means) if run else fit_saturation(nodes, means)
        ),
        predictions=linear_predictions(linear, rows),
        compute_seconds=result.compute_seconds,
        backend=backend,
        fit_note=FLAT_NOTE if flat else None,
    )


# --- the three objectives ------------------------------------------------------


@dataclass(frozen=True)
class ObjectivePlan:
    """The objectives' setting: one model for every law, sizes and times."""

    config: ModelConfig
    laws: list[Law]
    nodes: int
    steps: int
    repeats: int
    seed: int = 0
    join_step: int = OBJECTIVE_JOIN_STEP
    fault_step: int = OBJECTIVE_FAULT_STEP
    fault_level: float = OBJECTIVE_FAULT_LEVEL
    tolerance: float = ADAPTATION_TOLERANCE
    backend: str = "process"

    def check(self) -> None:
        """Raise ConfigError (one line) for a setting the objectives cannot use."""
        backend_for(self.backend)
        if self.nodes < 3:
            raise ConfigError(
                f"--nodes: the objectives need at least 3 nodes, got {self.nodes}"
            )
        if self.steps <= 0:
            raise ConfigError(f"--steps must be > 0, got {self.steps}")
        if self.repeats <= 0:
            raise ConfigError(f"--repeats must be > 0, got {self.repeats}")
        if not 0 < self.join_step < self.steps:
            raise ConfigError(
                f"--join-step must lie inside the run (0 < step < {self.steps}), "
                f"got {self.join_step}"
            )
        check_budget([self.nodes, self.nodes], self.repeats, self.steps)
        if not -PSI_ABS_MAX <= self.fault_level <= PSI_ABS_MAX:
            raise ConfigError(
                f"--fault-level must lie within ±{PSI_ABS_MAX:g}, "
                f"got {self.fault_level}"
            )
        if not 0 <= self.fault_step < self.steps:
            raise ConfigError(
                f"--fault-step must lie inside the run (0 <= step < {self.steps}), "
                f"got {self.fault_step}"
            )
        if not (self.config.exchange and self.config.isolation):
            raise ConfigError(
                "--no-exchange/--no-isolation: the objectives turn the exchange "
                "and isolation off themselves for their baselines; drop the flag"
            )
        if not self.config.transfer:
            raise ConfigError(
                "--no-transfer: the transfer objective runs both ways itself; "
                "drop the flag"
            )
        if self.config.faults:
            raise ConfigError(
                "--fault: the objectives inject their own fault on node 0; "
                "use --fault-step and --fault-level instead"
            )
        if not math.isfinite(self.fault_level):
            raise ConfigError(f"--fault-level must be finite, got {self.fault_level}")

    def for_law(self, law: Law, **changes: Any) -> ModelConfig:
        """The plan's config with ``law`` and ``changes`` applied."""
        return self.config.model_copy(update={"law": law, **changes})

    def fault(self) -> Fault:
        """The fault of the isolation objective."""
        return Fault(node=0, step=self.fault_step, level=self.fault_level)


@dataclass(frozen=True)
class Stability:
    """Distributed stability: mean Var over the run, with sync and without."""

    var: float
    baseline: float
    runs: list[float]
    baseline_runs: list[float]
    raw_var: float
    raw_baseline: float
    isolations: int
    baseline_isolations: int

    @property
    def ratio(self) -> float | None:
        """Var with sync over Var with the exchange off."""
        return finite_or_none(self.var / self.baseline) if self.baseline else None

    @property
    def passed(self) -> bool:
        """Var with sync under half of the baseline's."""
        return self.var < STABILITY_MAX_RATIO * self.baseline


@dataclass(frozen=True)
class Transfer:
    """Networked transfer: the late joiner's adaptation time, warm and cold.

    A time of None means the joiner's weights were still off at the end of
    the run; averages count such a run as the steps it had (a lower bound).
    """

    transfer_steps: list[int | None]
    cold_steps: list[int | None]
    steps_after_join: int
    distance_transfer: Array = field(repr=False)
    distance_cold: Array = field(repr=False)

    def mean_steps(self, times: list[int | None]) -> float:
        """Mean adaptation time, an unsettled run counted as its full length."""
        return float(
            np.mean([self.steps_after_join if t is None else t for t in times])
        )

    @property
    def reduction(self) -> float | None:
        """1 − warm/cold mean time; None when the cold start took no time."""
        cold = self.mean_steps(self.cold_steps)
        if cold <= 0.0:
            return None
        return 1.0 - self.mean_steps(self.transfer_steps) / cold

    @property
    def passed(self) -> bool:
        """Time falls by more than 70% and every warm joiner settled."""
        reduction = self.reduction
        settled = all(t is not None for t in self.transfer_steps)
        return settled and reduction is not None and reduction > TRANSFER_MIN_REDUCTION


@dataclass(frozen=True)
class Isolation:
    """Fault isolation: the share of healthy nodes kept at or under Ψ_critical."""

    protected: int
    healthy: int
    baseline_protected: int
    control_protected: int
    readings_to_isolate: list[int | None]
    peak_healthy: float
    baseline_peak_healthy: float
    peak_healthy_series: Array = field(repr=False)
    baseline_peak_series: Array = field(repr=False)

    @property
    def share(self) -> float:
        """Protected healthy nodes over all healthy nodes of every repeat."""
        return self.protected / self.healthy

    @property
    def baseline_share(self) -> float:
        """The same share in the run with isolation off."""
        return self.baseline_protected / self.healthy

    @property
    def control_share(self) -> float:
        """The same share in the run without a fault (isolation on)."""
        return self.control_protected / self.healthy

    @property
    def passed(self) -> bool:
        """Every healthy node protected."""
        return self.protected == self.healthy


@dataclass(frozen=True)
class LawObjectives:
    """The three objectives for one law."""

    law: Law
    stability: Stability
    transfer: Transfer
    isolation: Isolation


@dataclass(frozen=True)
class Objectives:
    """Every law's objectives and the setting they were measured in."""

    plan: ObjectivePlan
    laws: list[LawObjectives]
    compute_seconds: float

    def to_json(self) -> dict[str, Any]:
        """The content of ``objectives.json``."""
        plan = self.plan
        return {
            "nodes": plan.nodes,
            "steps": plan.steps,
            "repeats": plan.repeats,
            "seed": plan.seed,
            "source": plan.config.source.value,
            "disturbance": plan.config.disturbance.value,
            "join_step": plan.join_step,
            "fault": plan.fault().model_dump(mode="json"),
            "adaptation_tolerance": plan.tolerance,
            "psi_critical": plan.config.psi_critical,
            "config": plan.config.model_dump(mode="json"),
            "compute_seconds": self.compute_seconds,
            "laws": {item.law.value: law_json(item, plan) for item in self.laws},
        }


def law_json(item: LawObjectives, plan: ObjectivePlan) -> dict[str, Any]:
    """One law's three objectives: figures, baseline, threshold, pass."""
    s, t, i = item.stability, item.transfer, item.isolation
    return {
        "distributed_stability": {
            "figure": s.var,
            "baseline": s.baseline,
            "ratio": s.ratio,
            "threshold": f"mean Var with sync < {STABILITY_MAX_RATIO} x exchange off",
            "pass": s.passed,
            "runs": s.runs,
            "baseline_runs": s.baseline_runs,
            "raw_var": s.raw_var,
            "raw_var_baseline": s.raw_baseline,
            "isolations": s.isolations,
            "baseline_isolations": s.baseline_isolations,
        },
        "networked_transfer": {
            "figure": t.mean_steps(t.transfer_steps),
            "baseline": t.mean_steps(t.cold_steps),
            "reduction_pct": None if t.reduction is None else 100.0 * t.reduction,
            "threshold": f"reduction > {100 * TRANSFER_MIN_REDUCTION:.0f}%",
            "pass": t.passed,
            "transfer_steps": t.transfer_steps,
            "cold_steps": t.cold_steps,
            "steps_after_join": t.steps_after_join,
        },
        "fault_isolation": {
            "figure": 100.0 * i.share,
            "baseline": 100.0 * i.baseline_share,
            "no_fault_control": 100.0 * i.control_share,
            "threshold": "100% of healthy nodes protected",
            "pass": i.passed,
            "protected": i.protected,
            "healthy": i.healthy,
            "readings_to_isolate": i.readings_to_isolate,
            "peak_healthy_psi": i.peak_healthy,
            "baseline_peak_healthy_psi": i.baseline_peak_healthy,
        },
    }


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """The progress callback that says nothing."""


def objective_batches(plan: ObjectivePlan) -> int:
    """How many simulator batches ``measure_objectives`` runs (for progress)."""
    return 1 + 5 * len(plan.laws)


def _simulate(
    config: ModelConfig, runs: list[RunSpec], plan: ObjectivePlan
) -> SimResult:
    """Run a batch on the plan's backend.

    Over the network a late joiner is started when the network reaches its
    step and enters a few rounds later (the lockstep join margin); those
    rounds count against its adaptation time.
    """
    if plan.backend != "process":
        return backend_for(plan.backend)(
            config, runs, plan.steps, plan.seed, SourceInputs()
        )
    return Simulator(config, runs, plan.steps, plan.seed, record=True).run()


def _recorded(result: SimResult) -> tuple[Array, Array, NDArray[np.bool_], Array]:
    """The recorded Ψ, raw readings, membership and weights of a result."""
    assert result.psi is not None and result.raw is not None
    assert result.taking_part is not None and result.weights is not None
    return result.psi, result.raw, result.taking_part, result.weights


def stability_figures(
    with_sync: SimResult, without: SimResult
) -> tuple[list[float], list[float], float, float]:
    """Each run's mean Var, and the mean Var of the raw readings, both ways."""
    raw_with = _recorded(with_sync)
    raw_without = _recorded(without)
    raw_var = masked_var(raw_with[1], raw_with[2])
    raw_base = masked_var(raw_without[1], raw_without[2])
    return (
        [float(x) for x in np.mean(with_sync.var, axis=1)],
        [float(x) for x in np.mean(without.var, axis=1)],
        float(np.mean(raw_var)),
        float(np.mean(raw_base)),
    )


def weight_distance(weights: Array, joiner: int, join_step: int) -> Array:
    """Per run and step from the join on: the joiner's largest weight gap.

    The gap is to the mean weights, at the last step, of the nodes that ran
    the whole time (every node but the joiner).
    """
    incumbents = np.delete(weights[:, -1], joiner, axis=1)
    target = np.mean(incumbents, axis=1)
    joined = weights[:, join_step:, joiner, :]
    return np.max(np.abs(joined - target[:, None, :]), axis=-1)


def adaptation_time(distance: Array, tolerance: float) -> int | None:
    """Steps until the gap stays within ``tolerance`` to the end; None if never."""
    off = np.flatnonzero(~(distance <= tolerance))  # NaN: not there yet
    if off.size == 0:
        return 0
    if off[-1] == distance.size - 1:
        return None
    return int(off[-1]) + 1


def readings_to_isolate(
    taking_part: NDArray[np.bool_], node: int, fault_step: int
) -> list[int | None]:
    """Per run: the faulty readings taken until ``node`` left the sync.

    0 means it was already isolated the step before the fault; None that it
    never left.
    """
    out: list[int | None] = []
    for run in taking_part[:, :, node]:
        if fault_step > 0 and not run[fault_step - 1]:
            out.append(0)
            continue
        out_at = np.flatnonzero(~run[fault_step:])
        out.append(None if out_at.size == 0 else int(out_at[0]) + 1)
    return out


def protected_count(psi: Array, fault_step: int, psi_critical: float) -> int:
    """Healthy nodes (all but node 0) whose Ψ never exceeds Ψ_critical."""
    peak = np.max(psi[:, fault_step:, 1:], axis=1)
    return int(np.sum(peak <= psi_critical))


def measure_objectives(plan: ObjectivePlan, progress: Progress = _quiet) -> Objectives:
    """Measure the three objectives of MODEL.md §8 for every law of ``plan``.

    Raises:
        ConfigError: a setting the objectives cannot use (or an unstable κ).
    """
    plan.check()
    plain = [RunSpec(plan.nodes, r) for r in range(plan.repeats)]
    joiner = plan.nodes - 1
    joining = [
        RunSpec(plan.nodes, r, {joiner: plan.join_step}) for r in range(plan.repeats)
    ]
    total = 0.0

    progress("exchange off (the stability baseline)")
    # With the exchange off the law plays no part, so one baseline serves all.
    baseline = _simulate(
        plan.config.model_copy(update={"exchange": False}), plain, plan
    )
    total += baseline.compute_seconds

    laws = []
    for law in plan.laws:
        progress(f"{law.value}: stability")
        synced = _simulate(plan.for_law(law), plain, plan)
        progress(f"{law.value}: transfer")
        warm = _simulate(plan.for_law(law, transfer=True), joining, plan)
        progress(f"{law.value}: cold start")
        cold = _simulate(plan.for_law(law, transfer=False), joining, plan)
        progress(f"{law.value}: fault, isolation on")
        fault = (plan.fault(),)
        guarded = _simulate(plan.for_law(law, faults=fault), plain, plan)
        progress(f"{law.value}: fault, isolation off")
        exposed = _simulate(
            plan.for_law(law, faults=fault, isolation=False), plain, plan
        )
        total += sum(r.compute_seconds for r in (synced, warm, cold, guarded, exposed))
        laws.append(
            LawObjectives(
                law=law,
                stability=_stability(synced, baseline),
                transfer=_transfer(warm, cold, plan),
                isolation=_isolation(guarded, exposed, synced, plan),
            )
        )
    return Objectives(plan=plan, laws=laws, compute_seconds=total)


def _stability(synced: SimResult, baseline: SimResult) -> Stability:
    runs, base_runs, raw_var, raw_base = stability_figures(synced, baseline)
    return Stability(
        var=float(np.mean(runs)),
        baseline=float(np.mean(base_runs)),
        runs=runs,
        baseline_runs=base_runs,
        raw_var=raw_var,
        raw_baseline=raw_base,
        isolations=len(synced.decisions),
        baseline_isolations=len(baseline.decisions),
    )


def _transfer(warm: SimResult, cold: SimResult, plan: ObjectivePlan) -> Transfer:
    joiner = plan.nodes - 1
    near = weight_distance(_recorded(warm)[3], joiner, plan.join_step)
    far = weight_distance(_recorded(cold)[3], joiner, plan.join_step)
    return Transfer(
        transfer_steps=[adaptation_time(d, plan.tolerance) for d in near],
        cold_steps=[adaptation_time(d, plan.tolerance) for d in far],
        steps_after_join=plan.steps - plan.join_step,
        distance_transfer=near,
        distance_cold=far,
    )


def _isolation(
    guarded: SimResult, exposed: SimResult, control: SimResult, plan: ObjectivePlan
) -> Isolation:
    critical = plan.config.psi_critical
    psi, _, taking_part, _ = _recorded(guarded)
    psi_off = _recorded(exposed)[0]
    after = slice(plan.fault_step, None)
    return Isolation(
        protected=protected_count(psi, plan.fault_step, critical),
        healthy=plan.repeats * (plan.nodes - 1),
        baseline_protected=protected_count(psi_off, plan.fault_step, critical),
        control_protected=protected_count(
            _recorded(control)[0], plan.fault_step, critical
        ),
        readings_to_isolate=readings_to_isolate(taking_part, 0, plan.fault_step),
        peak_healthy=float(np.max(psi[:, after, 1:])),
        baseline_peak_healthy=float(np.max(psi_off[:, after, 1:])),
        peak_healthy_series=np.max(psi[:, :, 1:], axis=-1),
        baseline_peak_series=np.max(psi_off[:, :, 1:], axis=-1),
    )
