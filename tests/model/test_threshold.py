"""θ_net (MODEL.md §4): the windowed mean of Var, scaled and clipped."""

import numpy as np
import pytest

from entro_net.model.threshold import ThresholdState, clip_theta


def test_theta_uses_the_mean_of_the_steps_known_so_far() -> None:
    state = ThresholdState.start(1)
    first = state.update(np.array([0.1]), theta_base=1.4, gamma=2.5)
    second = state.update(np.array([0.3]), theta_base=1.4, gamma=2.5)
    assert first[0] == pytest.approx(1.4 + 2.5 * 0.1)
    assert second[0] == pytest.approx(1.4 + 2.5 * 0.2)


def test_theta_forgets_variance_older_than_20_steps() -> None:
    state = ThresholdState.start(1)
    for k in range(25):
        theta = state.update(np.array([0.001 * k]), theta_base=1.2, gamma=10.0)
    # the last 20 are 0.005 .. 0.024, mean 0.0145
    assert theta[0] == pytest.approx(1.2 + 10.0 * 0.0145)


def test_theta_is_clipped_to_1_and_2_5() -> None:
    high = ThresholdState.start(1).update(np.array([1.0]), theta_base=1.4, gamma=2.5)
    low = ThresholdState.start(1).update(np.array([0.0]), theta_base=0.5, gamma=2.5)
    assert high[0] == 2.5
    assert low[0] == 1.0
    assert clip_theta(0.2) == 1.0


def test_runs_keep_separate_windows() -> None:
    state = ThresholdState.start(2)
    theta = state.update(np.array([0.0, 0.2]), theta_base=1.4, gamma=2.5)
    assert theta == pytest.approx([1.4, 1.9])
