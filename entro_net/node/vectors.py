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

from entro_net.config import ModelConfig
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
class ReadingRule:
    """The isolation rule applied to each node's readings as they arrive.

    Used where readings do not come in rounds (the free clock): each reading
    advances only its own node's window, so the rule is the one of MODEL.md
    §5 applied per node. Decisions are numbered by one epoch counter.
    """

    config: ModelConfig
    columns: dict[str, int] = field(default_factory=dict)
    state: IsolationState = field(default_factory=lambda: IsolationState.start((1, 8)))

    def observe(self, node: str, raw: float, step: int) -> list[RuleDecision]:
        """Record one reading of ``node``; return the decisions it caused."""
        column = self.columns.setdefault(node, len(self.columns))
        width = self.state.isolated.shape[1]
        if column >= width:
            widen_isolation(self.state, max(2 * width, column + 1))
            width = self.state.isolated.shape[1]
        readings = np.zeros((1, width))
        readings[0, column] = raw
        present = np.zeros((1, width), dtype=bool)
        present[0, column] = True
        # The rule resets the calm streak of every node absent from a step;
        # here the others are only absent because their readings come apart.
        streaks = self.state.calm_streak.copy()
        made = self.state.step(
            readings,
            present,
            step,
            psi_critical=self.config.psi_critical,
            readmit_below=self.config.readmit_below,
            readmit_after=self.config.readmit_after,
            enabled=self.config.isolation,
        )
        self.state.calm_streak = np.where(present, self.state.calm_streak, streaks)
        names = {col: name for name, col in self.columns.items()}
        return [RuleDecision(d.kind, names[d.node], d.step, d.epoch) for d in made]

    def is_isolated(self, node: str) -> bool:
        """Whether the rule has ``node`` isolated now."""
        column = self.columns.get(node)
        return column is not None and bool(self.state.isolated[0, column])

    def isolated(self) -> set[str]:
        """Every node the rule has isolated now."""
        return {name for name in self.columns if self.is_isolated(name)}

    def mark_isolated(self, node: str) -> None:
        """Hold ``node`` isolated (restored from before a restart): the rule
        readmits it after ``readmit_after`` calm readings, as any other."""
        column = self.columns.setdefault(node, len(self.columns))
        width = self.state.isolated.shape[1]
        if column >= width:
            widen_isolation(self.state, max(2 * width, column + 1))
        self.state.isolated[0, column] = True
        self.state.calm_streak[0, column] = 0

    def forget(self, node: str) -> None:
        """Clear ``node``'s window and flag (it left or restarted)."""
        column = self.columns.get(node)
        if column is None:
            return
        self.state.known[0, column] = 0
        self.state.isolated[0, column] = False
        self.state.calm_streak[0, column] = 0
