"""Writes the experiments' results: JSON, CSV, Markdown reports and PNG plots.

Kept apart from ``entro_net.sim.experiments`` so the computation stays pure;
matplotlib (Agg backend, no display needed) is imported only to plot.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from entro_net.config import (
    CROSSOVER_BAND,
    LINEAR_FIT_MAX_NODES,
    PREDICTION_MIN_R2,
    SWEEP_TAIL_STEPS,
    Law,
    ModelConfig,
    Source,
)
from entro_net.files import atomic_path
from entro_net.sim.drawing import SweepFigure, draw_sweep, pyplot
from entro_net.sim.experiments import LawObjectives, Objectives, Sweep


def fmt(value: float | None, digits: int = 6) -> str:
    """A figure for a table: fixed point, scientific when tiny, — when None."""
    if value is None:
        return "—"
    if value != 0.0 and abs(value) < 10.0 ** (-digits + 2):
        return f"{value:.2e}"
    return f"{value:.{digits}f}"


def kappa_text(config: ModelConfig) -> str:
    """The κ in force, said plainly (``auto`` differs by law)."""
    if config.law is Law.RESILIENT:
        return "κ = 1/(m+1) over the m values kept (W-MSR)"
    if config.kappa != "auto":
        return f"κ = {config.kappa:g}"
    return "κ auto = 1" if config.law is Law.SEED else "κ auto = 1/n"


def _steps(value: int | None) -> str:
    return "not settled" if value is None else str(value)


def _readings(value: int | None) -> str:
    if value is None:
        return "never"
    return "already out" if value == 0 else str(value)


def _mark(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def write_json(path: Path, content: dict[str, Any]) -> Path:
    """Write ``content`` as indented JSON; returns the path.

    A NaN or infinite figure (a run that blew up, a fit over too few sizes)
    is written as null: JSON has no NaN, and readers choke on it.
    """
    text = json.dumps(_json_safe(content), indent=2, allow_nan=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def _pyplot() -> Any:
    return pyplot()


# --- sweep ---------------------------------------------------------------------


def _fit_lines(sweep: Sweep) -> list[str]:
    """The two fits in words, or why there are none."""
    if sweep.fit_note is not None:
        return [f"No fits: {sweep.fit_note}."]
    lines = []
    if sweep.linear is None:
        lines.append("Linear fit: fewer than two sizes with N ≤ 15.")
    else:
        lines.append(
            f"Linear fit for N ≤ {sweep.linear.max_nodes}: σ² = "
            f"{sweep.linear.slope:.4g}·N {sweep.linear.intercept:+.4g} "
            f"(R² {fmt(sweep.linear.r2, 3)})"
        )
    lines.append("")
    if sweep.saturation is None:
        lines.append("Saturation fit: fewer than two sizes, or it did not converge.")
    else:
        fit = sweep.saturation
        lines.append(
            f"Saturation fit: σ² = {fit.sigma2_max:.4g}·(1 − e^(−N/{fit.n0:.4g})) "
            f"(R² {fmt(fit.r2, 3)}, RMSE {fmt(fit.rmse, 4)})"
        )
    return lines


def _is_meaningful(sweep: Sweep) -> bool:
    r2 = sweep.linear.r2 if sweep.linear is not None else None
    return r2 is not None and np.isfinite(r2) and r2 >= PREDICTION_MIN_R2


def sweep_markdown(sweep: Sweep, plot_name: str | None = None) -> str:
    """The sweep as a Markdown report: the table, both fits, the plot."""
    plan = sweep.plan
    config = plan.config
    lines = [
        f"# Scaling sweep: law `{config.law.value}`, source `{config.source.value}`",
        "",
        f"{plan.steps} steps, {plan.repeats} repeats per N, seed {plan.seed}, "
        f"{kappa_text(config)}, backend {sweep.backend}; a run's figure is the mean "
        f"Var of the synced values over its last {min(SWEEP_TAIL_STEPS, plan.steps)} "
        "steps; "
        "± is the population std over the repeats. "
        f"Compute: {sweep.compute_seconds:.2f} s.",
        "",
    ]
    if config.source is not Source.PLANT:
        lines += [
            f"The `{config.source.value}` source is open-loop: θ_net and the "
            "weights are computed but change no reading, so only the sync law "
            "shapes these figures.",
            "",
        ]
    lines += ["| N | Variance (mean ± std) |", "|---|---|"]
    lines += [f"| {r.nodes} | {fmt(r.mean)} ± {fmt(r.std)} |" for r in sweep.rows]
    lines += ["", "## Fits", "", *_fit_lines(sweep)]
    if sweep.predictions and not _is_meaningful(sweep):
        lines += [
            "",
            f"The linear fit explains too little (R² below {PREDICTION_MIN_R2}) "
            "to predict from, so no predictions are listed.",
        ]
    elif sweep.predictions:
        lines += [
            "",
            "| N | Linear prediction | Actual variance | Deviation |",
            "|---|---|---|---|",
        ]
        for p in sweep.predictions:
            deviation = "—" if p.deviation_pct is None else f"{p.deviation_pct:+.1f}%"
            lines.append(
                f"| {p.nodes} | {fmt(p.predicted, 4)} | {fmt(p.actual, 4)} "
                f"| {deviation} |"
            )
    if plot_name is not None:
        lines += ["", f"![sweep]({plot_name})"]
    return "\n".join(lines) + "\n"


def write_sweep_csv(sweep: Sweep, path: Path) -> Path:
    """One line per N: nodes, mean, std, then each repeat's figure."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        repeats = sweep.plan.repeats
        writer.writerow(["nodes", "mean", "std", *(f"run{r}" for r in range(repeats))])
        for row in sweep.rows:
            writer.writerow([row.nodes, row.mean, row.std, *row.runs])
    return path


def sweep_figure(sweep: Sweep) -> SweepFigure:
    """The numbers and labels of the sweep's plot, for ``draw_sweep``."""
    nodes = np.asarray([r.nodes for r in sweep.rows], dtype=float)
    grid = np.linspace(0.0, max(float(nodes.max()), 1.0) * 1.05, 200)
    return SweepFigure(
        nodes=nodes.tolist(),
        means=[r.mean for r in sweep.rows],
        stds=[r.std for r in sweep.rows],
        grid=grid.tolist(),
        linear=None if sweep.linear is None else sweep.linear.predict(grid).tolist(),
        linear_label="linear fit N ≤ "
        f"{LINEAR_FIT_MAX_NODES if sweep.linear is None else sweep.linear.max_nodes}",
        saturation=None
        if sweep.saturation is None
        else sweep.saturation.predict(grid).tolist(),
        band=(float(CROSSOVER_BAND[0]), float(CROSSOVER_BAND[1])),
        title=f"Scaling sweep, law {sweep.plan.config.law.value}, "
        f"{sweep.plan.config.source.value}",
    )


def plot_sweep(sweep: Sweep, path: Path) -> Path:
    """Data with error bars, both fits and the crossover band N≈15–25."""
    return draw_sweep(sweep_figure(sweep), path)


def write_sweep(
    sweep: Sweep,
    out: Path,
    *,
    plot: bool = True,
    run: Callable[..., Any] | None = None,
) -> list[Path]:
    """Write sweep.json, sweep.csv, sweep.md and (unless not) sweep.png.

    ``run`` calls the drawing function (a plotting helper's ``run``);
    by default it is called here.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = [
        write_json(out / "sweep.json", sweep.to_json()),
        write_sweep_csv(sweep, out / "sweep.csv"),
    ]
    if plot:
        target = out / "sweep.png"
        written.append(
            run(draw_sweep, sweep_figure(sweep), target)
            if run
            else plot_sweep(sweep, target)
        )
    markdown = sweep_markdown(sweep, "sweep.png" if plot else None)
    with atomic_path(out / "sweep.md") as tmp:
        tmp.write_text(markdown)
    written.insert(2, out / "sweep.md")
    return written


# --- objectives ----------------------------------------------------------------

PLOTS = {
    "stability": "objective_stability.png",
    "transfer": "objective_transfer.png",
    "isolation": "objective_isolation.png",
}


def _stability_rows(laws: list[LawObjectives]) -> list[str]:
    rows = [
        "| law | mean Var, sync | mean Var, exchange off | ratio "
        "| raw Var, sync | raw Var, off | isolations | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in laws:
        s = item.stability
        rows.append(
            f"| {item.law.value} | {fmt(s.var)} | {fmt(s.baseline)} "
            f"| {fmt(s.ratio, 3)} | {fmt(s.raw_var)} | {fmt(s.raw_baseline)} "
            f"| {s.isolations} / {s.baseline_isolations} | {_mark(s.passed)} |"
        )
    return rows


def _transfer_rows(laws: list[LawObjectives]) -> list[str]:
    rows = [
        "| law | transfer: steps per repeat | mean | cold start: steps per repeat "
        "| mean | reduction | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in laws:
        t = item.transfer
        reduction = "—" if t.reduction is None else f"{100 * t.reduction:.1f}%"
        rows.append(
            f"| {item.law.value} "
            f"| {', '.join(_steps(x) for x in t.transfer_steps)} "
            f"| {t.mean_steps(t.transfer_steps):.1f} "
            f"| {', '.join(_steps(x) for x in t.cold_steps)} "
            f"| {t.mean_steps(t.cold_steps):.1f} | {reduction} "
            f"| {_mark(t.passed)} |"
        )
    return rows


def _isolation_rows(laws: list[LawObjectives]) -> list[str]:
    rows = [
        "| law | protected, isolation on | isolation off | no fault (control) "
        "| peak healthy Ψ on / off | faulty readings until out | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in laws:
        i = item.isolation
        took = ", ".join(_readings(x) for x in i.readings_to_isolate)
        rows.append(
            f"| {item.law.value} | {100 * i.share:.1f}% ({i.protected}/{i.healthy}) "
            f"| {100 * i.baseline_share:.1f}% | {100 * i.control_share:.1f}% "
            f"| {fmt(i.peak_healthy, 3)} / {fmt(i.baseline_peak_healthy, 3)} "
            f"| {took} | {_mark(i.passed)} |"
        )
    return rows


def objectives_markdown(objectives: Objectives, *, plots: bool = True) -> str:
    """The objectives as a Markdown report, one section and plot each."""
    plan = objectives.plan
    config = plan.config
    fault = plan.fault()
    lines = [
        "# The seed's three objectives",
        "",
        f"Source `{config.source.value}` (disturbance `{config.disturbance.value}`), "
        f"{plan.nodes} nodes, {plan.steps} steps, {plan.repeats} repeats, "
        f"seed {plan.seed}; every law against the same seeds. "
        f"Compute: {objectives.compute_seconds:.2f} s. Backend: {plan.backend}"
        + (
            " (every batch over real lockstep networks; a late joiner enters a "
            "few rounds after its step, which counts against its adaptation)."
            if plan.backend != "process"
            else ".",
        )[0],
        "",
        "## Distributed stability",
        "",
        "Mean Var of the synced values over the run (nodes taking part), with "
        "the sync law against the exchange off (s_i = r_i); it must be under "
        "half. With the exchange off the law plays no part, so all laws share "
        "one baseline. Raw Var is the variance of the readings before the sync, "
        "which shows whether the coupling brought the plants themselves "
        "together; isolations are decisions with sync / without.",
        "",
        *_stability_rows(objectives.laws),
    ]
    if plots:
        lines += ["", f"![distributed stability]({PLOTS['stability']})"]
    lines += [
        "",
        "## Networked transfer",
        "",
        f"Node {plan.nodes - 1} joins at step {plan.join_step}. Its adaptation time "
        "is the number of steps until its weights stay within "
        f"{plan.tolerance} (largest component) of the mean weights, at the last "
        "step, of the nodes that ran the whole time. Transfer (start from the "
        "network's mean weights) against a cold start ([0.5, 0.3, 0.2]); the "
        "mean time must fall by more than 70%, and every transferred joiner "
        "must settle. A run that never settled counts with the steps it had.",
        "",
        *_transfer_rows(objectives.laws),
    ]
    if plots:
        lines += ["", f"![networked transfer]({PLOTS['transfer']})"]
    lines += [
        "",
        "## Fault isolation",
        "",
        f"Node {fault.node} reads Ψ = {fault.level} from step {fault.step} on. A "
        "healthy node is protected if its synced Ψ never exceeds Ψ_critical = "
        f"{config.psi_critical} from then on; the share must be 100%. Beside it: "
        "the same run with isolation off, and the run without any fault "
        "(isolation on), which shows whether healthy nodes cross Ψ_critical on "
        "their own.",
        "",
        *_isolation_rows(objectives.laws),
    ]
    if plots:
        lines += ["", f"![fault isolation]({PLOTS['isolation']})"]
    return "\n".join(lines) + "\n"


def plot_stability(objectives: Objectives, path: Path) -> Path:
    """Mean Var with sync and with the exchange off, per law (log scale).

    Left the synced values (the objective), right the raw readings before
    the sync; a bar at float rounding of zero is drawn at 1e-12 and says so.
    """
    plt = _pyplot()
    laws = objectives.laws
    x = np.arange(len(laws))
    floor = 1e-12
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    panels = (
        (
            "synced Ψ (the objective)",
            [(i.stability.var, i.stability.baseline) for i in laws],
        ),
        (
            "raw readings, before the sync",
            [(i.stability.raw_var, i.stability.raw_baseline) for i in laws],
        ),
    )
    for ax, (title, pairs) in zip(axes, panels, strict=True):
        for offset, label, which in ((-0.2, "sync", 0), (0.2, "exchange off", 1)):
            values = [pair[which] for pair in pairs]
            bars = ax.bar(x + offset, [max(v, floor) for v in values], 0.4, label=label)
            for bar, value in zip(bars, values, strict=True):
                text = "≈0" if value < floor else f"{value:.2g}"
                ax.annotate(
                    text,
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize="x-small",
                )
        ax.set_yscale("log")
        ax.set_xticks(x, [i.law.value for i in laws])
        ax.set_title(title, fontsize="medium")
    axes[0].set_ylabel("mean Var over the run")
    axes[0].legend(fontsize="small")
    fig.suptitle("Distributed stability (sync must be under half of exchange off)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


def plot_transfer(objectives: Objectives, path: Path) -> Path:
    """The joiner's largest weight gap after joining, warm and cold (repeat 0)."""
    plt = _pyplot()
    laws = objectives.laws
    tolerance = objectives.plan.tolerance
    fig, axes = plt.subplots(
        1, len(laws), figsize=(4.2 * len(laws), 3.8), squeeze=False
    )
    for ax, item in zip(axes[0], laws, strict=True):
        t = item.transfer
        ax.plot(t.distance_transfer[0], color="C0", label="transfer")
        ax.plot(t.distance_cold[0], color="C3", label="cold start")
        ax.axhline(tolerance, color="0.4", linestyle=":", label=f"±{tolerance}")
        ax.set_title(f"{item.law.value} (repeat 0)")
        ax.set_xlabel(f"steps after joining at {objectives.plan.join_step}")
    axes[0][0].set_ylabel("largest |w − network mean|")
    axes[0][0].legend(fontsize="small")
    fig.suptitle("Networked transfer")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


def plot_isolation(objectives: Objectives, path: Path) -> Path:
    """The highest healthy Ψ per step, isolation on and off (repeat 0)."""
    plt = _pyplot()
    laws = objectives.laws
    plan = objectives.plan
    fig, axes = plt.subplots(
        1, len(laws), figsize=(4.2 * len(laws), 3.8), squeeze=False
    )
    for ax, item in zip(axes[0], laws, strict=True):
        i = item.isolation
        ax.plot(i.baseline_peak_series[0], color="C3", label="isolation off")
        ax.plot(i.peak_healthy_series[0], color="C0", label="isolation on")
        ax.axhline(plan.config.psi_critical, color="0.4", linestyle=":", label="Ψ_crit")
        ax.axvline(plan.fault_step, color="0.6", linestyle="--")
        ax.set_title(f"{item.law.value} (repeat 0)")
        ax.set_xlabel("step")
    axes[0][0].set_ylabel("highest healthy synced Ψ")
    axes[0][0].legend(fontsize="small")
    fig.suptitle(
        f"Fault isolation: node 0 at Ψ = {plan.fault_level} from step {plan.fault_step}"
    )
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


def write_objectives(
    objectives: Objectives, out: Path, *, plot: bool = True
) -> list[Path]:
    """Write objectives.json, objectives.md and (unless not) one PNG each."""
    out.mkdir(parents=True, exist_ok=True)
    written = [write_json(out / "objectives.json", objectives.to_json())]
    markdown = out / "objectives.md"
    with atomic_path(markdown) as tmp:
        tmp.write_text(objectives_markdown(objectives, plots=plot))
    written.append(markdown)
    if plot:
        written.append(plot_stability(objectives, out / PLOTS["stability"]))
        written.append(plot_transfer(objectives, out / PLOTS["transfer"]))
        written.append(plot_isolation(objectives, out / PLOTS["isolation"]))
    return written
