"""Where a node's raw reading comes from (MODEL.md §1), as pure functions.

Open-loop sources turn a step number and a uniform draw into a reading; the
closed-loop plant carries its state; ``trace`` and ``host`` get plain numbers
from the edge (entro_net.inputs) and only normalise them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from entro_net.config import (
    NORMALISER_X_CAP,
    PHASE_SHIFT_STEP,
    PLANT_DT_S,
    PLANT_PSI_FLOOR,
    PLANT_PSI_START,
    TRACE_SCALE_ROWS,
    Disturbance,
    Fault,
    Source,
)

Array = NDArray[np.float64]

OPEN_LOOP_SOURCES = (Source.SCRAPER, Source.PHASE_SHIFT)


def scraper_reading(step: int | Array, uniform: Array) -> Array:
    """``0.3 + 0.4·sin(0.05k) + 0.1·U(0,1)``."""
    return 0.3 + 0.4 * np.sin(0.05 * np.asarray(step, dtype=float)) + 0.1 * uniform


def phase_shift_reading(step: int | Array, uniform: Array) -> Array:
    """``0.3 + 0.1·U`` before step 250, ``0.7 + 0.1·U`` from then on."""
    base = np.where(np.asarray(step) < PHASE_SHIFT_STEP, 0.3, 0.7)
    return base + 0.1 * uniform


def open_loop_reading(
    source: Source, step: int | NDArray[Any], uniform: Array
) -> Array:
    """The raw reading of an open-loop source at ``step`` given its draw."""
    if source is Source.SCRAPER:
        return scraper_reading(step, uniform)
    if source is Source.PHASE_SHIFT:
        return phase_shift_reading(step, uniform)
    raise ValueError(f"{source.value} is not an open-loop source")


def disturbance(kind: Disturbance, t: Array) -> Array:
    """The plant's disturbance d(t) at plant time ``t`` (seconds)."""
    if kind is Disturbance.SCRAPER:
        bump = np.exp(-(((t % 20.0) - 10.0) ** 2) / 30.0)
        return 0.5 * np.sin(0.2 * np.pi * t) + 0.8 * bump
    return np.where(t < 50.0, 0.01 * t, 0.5 + 0.1 * np.sin(0.2 * t))


def sigmoid(x: Array) -> Array:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class PlantState:
    """The second-order plant of every node: Ψ, velocity v, acceleration a."""

    psi: Array
    v: Array
    a: Array

    @classmethod
    def start(cls, shape: tuple[int, ...]) -> PlantState:
        """Ψ = 0.339 and v = a = 0 for every node."""
        return cls(
            psi=np.full(shape, PLANT_PSI_START),
            v=np.zeros(shape),
            a=np.zeros(shape),
        )


def plant_advance(
    state: PlantState,
    theta_net: Array,
    weights: Array,
    t: Array,
    noise: Array,
    kind: Disturbance,
) -> None:
    """Advance the plant one step of dt = 0.1 in place; its Ψ is the reading.

    ``theta_net`` broadcasts against Ψ, ``weights`` has a trailing axis of 3,
    ``t`` is each node's plant time (phase offset included) and ``noise`` the
    N(0, 0.01²) draw of this step.
    """
    drive = (
        weights[..., 0] * sigmoid(state.psi - theta_net)
        + weights[..., 1] * np.tanh(state.v)
        + weights[..., 2] * np.tanh(state.a)
    )
    control = -np.clip(drive, 0.0, 1.0)
    state.a = -state.psi - 0.5 * state.v + control + disturbance(kind, t) + noise
    state.v = state.v + state.a * PLANT_DT_S
    state.psi = np.maximum(PLANT_PSI_FLOOR, state.psi + state.v * PLANT_DT_S)


def apply_faults(
    raw: Array, step: int, faults: tuple[Fault, ...], node_index: NDArray[np.int64]
) -> Array:
    """Return ``raw`` with every fault in force at ``step`` applied.

    ``node_index`` gives the node number of each column of ``raw`` (the
    last axis), so a node process with one column and the simulator with
    all of them apply the same faults.
    """
    out = raw
    for fault in faults:
        if step >= fault.step:
            hit = node_index == fault.node
            if np.any(hit):
                out = np.where(hit, fault.level, out)
    return out


def normalise(x: Array) -> Array:
    """Map a utilisation fraction to Ψ in [0, 2) (the ENTRO-AI normaliser)."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, NORMALISER_X_CAP)
    raw = x**1.7 / (1.0 - x)
    return 2.0 * (1.0 - 1.0 / (1.0 + raw / 10.0))


def trace_fraction(values: Array, *, percent: bool) -> Array:
    """Turn a metric series into utilisation fractions in [0, 1].

    Percent series are divided by 100; bytes and counts are scaled by their
    1st..99th percentile over the first day (288 rows of 5 minutes).
    """
    values = np.asarray(values, dtype=float)
    if percent:
        return np.clip(values / 100.0, 0.0, 1.0)
    head = values[:TRACE_SCALE_ROWS]
    low, high = np.percentile(head, [1.0, 99.0])
    span = high - low
    if not np.isfinite(span) or span <= 0.0:
        return np.zeros_like(values)
    return np.clip((values - low) / span, 0.0, 1.0)


def pressure_fraction(psi_some_avg10: list[float]) -> float:
    """The largest of the CPU, memory and IO pressures, as a fraction.

    Takes the "some avg10" percentages (or utilisation percentages where the
    kernel has no PSI) already read by the edge.
    """
    if not psi_some_avg10:
        return 0.0
    return float(np.clip(max(psi_some_avg10) / 100.0, 0.0, 1.0))


def parse_pressure(text: str) -> float:
    """Parse the "some avg10=" figure of a ``/proc/pressure/*`` file."""
    for line in text.splitlines():
        if line.startswith("some"):
            for field in line.split():
                if field.startswith("avg10="):
                    return float(field.removeprefix("avg10="))
    raise ValueError("no 'some avg10=' line in pressure text")
