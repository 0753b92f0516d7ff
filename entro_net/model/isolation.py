"""Fault isolation with epochs and hysteresis (MODEL.md §5).

``IsolationState`` applies the rule to raw readings, vectorised over runs
and nodes, and reports each decision with its epoch. ``IsolationView`` is
what a node or a watcher holds: it applies decisions as they arrive, in any
order, and a stale or repeated one never undoes a newer epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from entro_net.config import FAULT_MIN_COUNT, FAULT_WINDOW

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]


class DecisionKind(StrEnum):
    """What a decision does to its node."""

    ISOLATE = "isolate"
    READMIT = "readmit"


@dataclass(frozen=True)
class Decision:
    """One isolation or readmission, numbered by its epoch."""

    kind: DecisionKind
    node: int
    step: int
    epoch: int
    run: int = 0


@dataclass
class IsolationState:
    """The last five raw readings, isolation flags and epochs of every run."""

    readings: Array
    known: NDArray[np.int64]
    isolated: Mask
    calm_streak: NDArray[np.int64]
    epoch: NDArray[np.int64]

    @classmethod
    def start(cls, shape: tuple[int, int]) -> IsolationState:
        """Nobody isolated, no readings, epoch 0."""
        return cls(
            readings=np.zeros((*shape, FAULT_WINDOW)),
            known=np.zeros(shape, dtype=np.int64),
            isolated=np.zeros(shape, dtype=bool),
            calm_streak=np.zeros(shape, dtype=np.int64),
            epoch=np.zeros(shape[0], dtype=np.int64),
        )

    def step(
        self,
        raw: Array,
        present: Mask,
        step: int,
        *,
        psi_critical: float,
        readmit_below: float,
        readmit_after: int,
        enabled: bool = True,
    ) -> list[Decision]:
        """Apply the rule to this step's readings; return the decisions made.

        A node is isolated when at least 3 of its last 5 readings exceed
        Ψ_critical. An isolated node is readmitted after ``readmit_after``
        readings in a row below ``readmit_below``, at most one a step (the
        longest calm first); its window starts afresh so it is not isolated
        again at once on readings it already answered for.
        """
        self.readings = np.where(
            present[..., None],
            np.concatenate([self.readings[..., 1:], raw[..., None]], axis=-1),
            self.readings,
        )
        self.known = np.where(
            present, np.minimum(self.known + 1, FAULT_WINDOW), self.known
        )
        if not enabled:
            return []

        calm = present & self.isolated & (raw < readmit_below)
        self.calm_streak = np.where(calm, self.calm_streak + 1, 0)
        decisions: list[Decision] = []
        ready = self.isolated & (self.calm_streak >= readmit_after)
        for run in np.flatnonzero(np.any(ready, axis=-1)):
            streaks = np.where(ready[run], self.calm_streak[run], -1)
            node = int(np.argmax(streaks))
            self.isolated[run, node] = False
            self.calm_streak[run, node] = 0
            self.known[run, node] = 0
            self.epoch[run] += 1
            decisions.append(
                Decision(
                    DecisionKind.READMIT, node, step, int(self.epoch[run]), int(run)
                )
            )

        window = np.arange(FAULT_WINDOW) >= (FAULT_WINDOW - self.known[..., None])
        over = np.sum(window & (self.readings > psi_critical), axis=-1)
        fresh = present & ~self.isolated & (over >= FAULT_MIN_COUNT)
        for run, node in zip(*np.nonzero(fresh), strict=True):
            self.isolated[run, node] = True
            self.calm_streak[run, node] = 0
            self.epoch[run] += 1
            decisions.append(
                Decision(
                    DecisionKind.ISOLATE,
                    int(node),
                    step,
                    int(self.epoch[run]),
                    int(run),
                )
            )
        return decisions


@dataclass
class IsolationView:
    """One party's view of who is isolated, built from numbered decisions."""

    isolated: set[str] = field(default_factory=set)
    node_epoch: dict[str, int] = field(default_factory=dict)
    epoch: int = 0

    def apply(self, kind: DecisionKind, node: str, epoch: int) -> bool:
        """Apply a decision unless a newer one about ``node`` is already known.

        Returns True when the view changed or advanced.
        """
        if epoch <= self.node_epoch.get(node, 0):
            return False
        self.node_epoch[node] = epoch
        self.epoch = max(self.epoch, epoch)
        if kind is DecisionKind.ISOLATE:
            self.isolated.add(node)
        else:
            self.isolated.discard(node)
        return True

    def is_isolated(self, node: str) -> bool:
        """Whether ``node`` is isolated in this view."""
        return node in self.isolated
