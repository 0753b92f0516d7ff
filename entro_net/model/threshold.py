"""θ_net: the networked threshold from the recent variance (MODEL.md §4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from entro_net.config import THETA_MAX, THETA_MIN, THETA_WINDOW

Array = NDArray[np.float64]


def clip_theta(value: Array | float) -> Array:
    """Clip a threshold to [1.0, 2.5]."""
    return np.clip(np.asarray(value, dtype=float), THETA_MIN, THETA_MAX)


@dataclass
class ThresholdState:
    """The last up to 20 steps' Var of synced values, per run."""

    history: Array
    known: NDArray[np.int64]

    @classmethod
    def start(cls, runs: int) -> ThresholdState:
        """No variance known yet."""
        return cls(np.zeros((runs, THETA_WINDOW)), np.zeros(runs, dtype=np.int64))

    def update(self, var: Array, theta_base: float, gamma: float) -> Array:
        """Record this step's Var; return θ_net for the next step."""
        self.history = np.concatenate([self.history[:, 1:], var[:, None]], axis=1)
        self.known = np.minimum(self.known + 1, THETA_WINDOW)
        window = np.arange(THETA_WINDOW) >= (THETA_WINDOW - self.known[:, None])
        mean = np.sum(np.where(window, self.history, 0.0), axis=1) / self.known
        return clip_theta(theta_base + gamma * mean)
