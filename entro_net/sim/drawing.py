"""The sweep's figure, drawn from plain numbers.

Kept apart from ``report`` so the plotting process (``sim/helpers.py``) loads
matplotlib and this alone: not the model, the config or scipy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from entro_net.files import atomic_path


class SweepFigure(TypedDict):
    """What ``draw_sweep`` draws: every number and label already made."""

    nodes: list[float]
    means: list[float]
    stds: list[float]
    grid: list[float]
    linear: list[float] | None
    linear_label: str
    saturation: list[float] | None
    band: tuple[float, float]
    title: str


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_sweep(figure: SweepFigure, path: Path) -> Path:
    """Data with error bars, both fits and the crossover band; a PNG at ``path``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    low, high = figure["band"]
    ax.axvspan(low, high, color="0.85", label=f"crossover N≈{low:g}–{high:g}")
    ax.errorbar(
        figure["nodes"],
        figure["means"],
        yerr=figure["stds"],
        fmt="o",
        color="C0",
        capsize=3,
        label="measured (mean ± std)",
    )
    if figure["linear"] is not None:
        ax.plot(
            figure["grid"],
            figure["linear"],
            "--",
            color="C1",
            label=figure["linear_label"],
        )
    if figure["saturation"] is not None:
        ax.plot(
            figure["grid"],
            figure["saturation"],
            "-",
            color="C2",
            label="saturation fit",
        )
    top = max(
        max(m + s for m, s in zip(figure["means"], figure["stds"], strict=True)), 1e-3
    )
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), top * 1.25)
    ax.set_xlabel("N (nodes)")
    ax.set_ylabel("Var of synced Ψ, last 100 steps")
    ax.set_title(figure["title"])
    ax.legend(loc="upper left", fontsize="small")
    # Fixed margins that fit these labels: tight_layout would lay the
    # figure out twice, a third of the drawing time.
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.1, top=0.93)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    finally:
        plt.close(fig)
    return path
