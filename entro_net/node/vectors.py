"""Node vectors of a live network: indexed by node, grown as nodes arrive.

The model works on ``(runs, nodes)`` arrays. A live network learns its
members as they join, so the lockstep state is widened in place when a
higher index appears, and the per-reading isolation rule of the free clock
maps node ids to columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from entro_net.config import FAULT_MIN_COUNT, FAULT_WINDOW, ModelConfig
from entro_net.model.isolation import DecisionKind, IsolationState
from entro_net.model.network import NetworkState

Array = NDArray[np.float64]


def _pad(values: NDArray[np.generic], width: int) -> NDArray[np.generic]:
    extra = width - values.shape[1]
    pad = [(0, 0)] * values.ndim
    pad[1] = (0, extra)
    return np.pad(values, pad)


def widen_isolation(state: IsolationState, width: int) -> None:
    """Give ``state`` at least ``width`` node columns (new ones start empty)."""
    if state.isolated.shape[1] >= width:
        return
    state.readings = _pad(state.readings, width).astype(float)
    state.known = _pad(state.known, width).astype(np.int64)
    state.isolated = _pad(state.isolated, width).astype(bool)
    state.calm_streak = _pad(state.calm_streak, width).astype(np.int64)


def widen_network(state: NetworkState, width: int) -> None:
    """Give a one-run network state at least ``width`` node columns."""
    widen_isolation(state.isolation, width)


@dataclass(frozen=True)
class RuleDecision:
    """An isolation decision about a node id, numbered by its epoch."""

    kind: DecisionKind
    node: str
    step: int
    epoch: int


@dataclass
class _Window:
    """One node's part of the rule: its last readings, how many of them are
    over Ψ_critical, its flag and calm streak."""

    recent: list[float] = field(default_factory=list)
    over: int = 0
    isolated: bool = False
    calm_streak: int = 0

    def clear(self) -> None:
        self.recent.clear()
        self.over = 0


@dataclass
class ReadingRule:
    """The isolation rule applied to each node's readings as they arrive.

    Used where readings do not come in rounds (the free clock): each reading
    advances only its own node's window, so the rule is the one of MODEL.md
    §5 applied per node. Decisions are numbered by one epoch counter.

    It runs on every peer reading a node or the coordinator receives, so it
    is written for one reading at a time in plain Python, keeping a count of
    the window's readings over Ψ_critical (0.2 µs a reading, where a
    vectorised step over all columns cost about 20 µs); it decides exactly
    as ``IsolationState.step`` with only that node present and the others'
    calm streaks kept (tests/node/test_vectors.py checks the two agree).
    """

    config: ModelConfig
    windows: dict[str, _Window] = field(default_factory=dict)
    epoch: int = 0

    def observe(self, node: str, raw: float, step: int) -> list[RuleDecision]:
        """Record one reading of ``node``; return the decisions it caused."""
        window = self.windows.get(node)
        if window is None:
            window = self.windows[node] = _Window()
        config = self.config
        critical = config.psi_critical
        recent = window.recent
        recent.append(raw)
        if raw > critical:
            window.over += 1
        if len(recent) > FAULT_WINDOW and recent.pop(0) > critical:
            window.over -= 1
        if not config.isolation:
            return []
        calm = window.isolated and raw < config.readmit_below
        window.calm_streak = window.calm_streak + 1 if calm else 0
        if window.isolated and window.calm_streak >= config.readmit_after:
            window.isolated = False
            window.calm_streak = 0
            window.clear()
            self.epoch += 1
            return [RuleDecision(DecisionKind.READMIT, node, step, self.epoch)]
        if window.isolated or window.over < FAULT_MIN_COUNT:
            return []
        window.isolated = True
        window.calm_streak = 0
        self.epoch += 1
        return [RuleDecision(DecisionKind.ISOLATE, node, step, self.epoch)]

    def is_isolated(self, node: str) -> bool:
        """Whether the rule has ``node`` isolated now."""
        window = self.windows.get(node)
        return window is not None and window.isolated

    def isolated(self) -> set[str]:
        """Every node the rule has isolated now."""
        return {name for name, window in self.windows.items() if window.isolated}

    def mark_isolated(self, node: str) -> None:
        """Hold ``node`` isolated (restored from before a restart): the rule
        readmits it after ``readmit_after`` calm readings, as any other."""
        window = self.windows.setdefault(node, _Window())
        window.isolated = True
        window.calm_streak = 0

    def forget(self, node: str) -> None:
        """Clear ``node``'s window and flag (it left or restarted)."""
        window = self.windows.get(node)
        if window is None:
            return
        window.clear()
        window.isolated = False
        window.calm_streak = 0
