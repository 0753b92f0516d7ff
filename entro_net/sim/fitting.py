"""The sweep's saturation fit (scipy), in a module that loads nothing else.

The helper process that fits (``sim/helpers.py``) imports this and scipy
while the command simulates; the job it is sent is plain arrays.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class SaturationFit:
    """``σ² = σ²_max·(1 − e^(−N/N₀))`` over every size."""

    sigma2_max: float
    n0: float
    r2: float | None
    rmse: float

    def predict(self, nodes: Array | float) -> Array:
        """The fit's σ² at ``nodes``."""
        n = np.asarray(nodes, dtype=float)
        return self.sigma2_max * (1.0 - np.exp(-n / self.n0))


def warm_up() -> None:
    """Load what ``fit_saturation`` needs (scipy's optimisers)."""
    import scipy.optimize  # noqa: F401


def r_squared(actual: Array, predicted: Array) -> float | None:
    """``1 − SS_res/SS_tot``; None when the data do not vary."""
    total = float(np.sum((actual - np.mean(actual)) ** 2))
    if total <= 0.0:
        return None
    return 1.0 - float(np.sum((actual - predicted) ** 2)) / total


def _saturation(n: Array, sigma2_max: float, n0: float) -> Array:
    return sigma2_max * (1.0 - np.exp(-n / n0))


def fit_saturation(nodes: Array, means: Array) -> SaturationFit | None:
    """``σ²_max·(1 − e^(−N/N₀))`` by scipy's curve_fit over every size.

    Returns None with fewer than 2 sizes or when the fit does not converge.
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    if np.unique(nodes).size < 2:
        return None
    start = (max(float(np.max(means)), 1e-6), float(np.median(nodes)))
    params: Any
    try:
        with warnings.catch_warnings():
            # The covariance is not used; flat data make it undefined.
            warnings.simplefilter("ignore", OptimizeWarning)
            params, _ = curve_fit(
                _saturation,
                nodes,
                means,
                p0=start,
                bounds=([0.0, 1e-6], [np.inf, np.inf]),
                maxfev=20000,
            )
    except (RuntimeError, ValueError):
        return None
    sigma2_max, n0 = float(params[0]), float(params[1])
    predicted = _saturation(nodes, sigma2_max, n0)
    rmse = float(np.sqrt(np.mean((means - predicted) ** 2)))
    return SaturationFit(sigma2_max, n0, r_squared(means, predicted), rmse)
