"""``entro-net report FILE --out DIR``: PNG plots of a recorded run.

Three pictures: Ψ of every node by step with θ_net and Ψ_critical; Var and
V_net by step; and an isolation timeline (when each node was isolated, with
the decisions' epochs). Also ``report.json`` with what the recording held.
matplotlib is imported here only, with the Agg backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from entro_net.observe.trajectory import RecordedRun

FIGURE_SIZE_IN = (8.0, 4.0)
DPI = 100


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _series(values: dict[int, float]) -> tuple[list[int], list[float]]:
    steps = sorted(values)
    return steps, [values[s] for s in steps]


def plot_psi(run: RecordedRun, path: Path) -> None:
    """Ψ per node by step, θ_net in force and Ψ_critical."""
    plt = _pyplot()
    fig, ax = plt.subplots(
        figsize=(FIGURE_SIZE_IN[0] + 1.2, FIGURE_SIZE_IN[1]), dpi=DPI
    )
    for node in sorted(run.nodes):
        steps, psi = _series(run.nodes[node].psi)
        ax.plot(steps, psi, linewidth=0.9, label=node)
    steps, theta = _series(run.network.theta_net)
    if steps:
        ax.step(steps, theta, where="post", color="black", linewidth=1.2, label="θ_net")
    ax.axhline(
        run.psi_critical, color="red", linestyle="--", linewidth=1.0, label="Ψ_critical"
    )
    ax.set_xlabel("step")
    ax.set_ylabel("Ψ")
    ax.set_title("Ψ per node, θ_net and Ψ_critical")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_var(run: RecordedRun, path: Path) -> None:
    """Var of the synced values and V_net by step (two panels)."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=FIGURE_SIZE_IN, dpi=DPI, sharex=True
    )
    steps, var = _series(run.network.var)
    top.plot(steps, var, color="tab:blue", linewidth=0.9)
    top.set_ylabel("Var")
    top.set_title("Var of synced values and V_net")
    steps, vnet = _series(run.network.v_net)
    bottom.plot(steps, vnet, color="tab:green", linewidth=0.9)
    bottom.set_ylabel("V_net")
    bottom.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_isolation(run: RecordedRun, path: Path) -> None:
    """One lane per node: the steps it spent isolated, decisions marked."""
    plt = _pyplot()
    nodes = sorted(run.nodes)
    last = max((max(s.psi_raw, default=0) for s in run.nodes.values()), default=0)
    fig, ax = plt.subplots(
        figsize=(FIGURE_SIZE_IN[0], 1.0 + 0.35 * len(nodes)), dpi=DPI
    )
    for lane, node in enumerate(nodes):
        spans = run.isolation_spans(node)
        bars = [(a, (b if b is not None else last + 1) - a) for a, b in spans]
        ax.broken_barh(bars, (lane - 0.35, 0.7), color="tab:purple")
    for d in run.decisions:
        if d.node in nodes:
            lane = nodes.index(d.node)
            marker = "v" if d.kind == "isolate" else "^"
            ax.plot([d.step], [lane], marker=marker, color="black", markersize=5)
            ax.annotate(f"e{d.epoch}", (d.step, lane + 0.4), fontsize=7)
    ax.set_yticks(range(len(nodes)), nodes)
    ax.set_xlim(0, last + 1)
    ax.set_ylim(-0.7, len(nodes) - 0.3)
    ax.set_xlabel("step")
    ax.set_title("isolation timeline (bars: isolated; ▼ isolate, ▲ readmit)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_facts(run: RecordedRun) -> dict[str, Any]:
    """What the recording held, JSON-ready."""
    var = run.network.var
    tail = [var[s] for s in sorted(var)[-100:]]
    return {
        "clock": run.clock.value,
        "records": run.records,
        "undecodable": run.undecodable,
        "torn_tail_bytes": run.torn_tail_bytes,
        "seconds": (
            None
            if run.first_ts is None or run.last_ts is None
            else run.last_ts - run.first_ts
        ),
        "steps": len(var),
        "var_last100": sum(tail) / len(tail) if tail else None,
        "nodes": {
            node: {
                "states": s.states,
                "steps": len(s.psi),
                "last_psi": s.psi[max(s.psi)] if s.psi else None,
            }
            for node, s in sorted(run.nodes.items())
        },
        "isolations": [
            {"node": d.node, "step": d.step, "epoch": d.epoch, "kind": d.kind}
            for d in run.decisions
        ],
    }


def write_report(run: RecordedRun, out: Path) -> list[Path]:
    """Draw every plot of ``run`` into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "psi.png", out / "var.png", out / "isolation.png"]
    plot_psi(run, files[0])
    plot_var(run, files[1])
    plot_isolation(run, files[2])
    facts = out / "report.json"
    facts.write_text(json.dumps(run_facts(run), indent=1))
    return [*files, facts]
