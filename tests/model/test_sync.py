"""The sync laws against hand-computed values."""

import numpy as np
import pytest

from entro_net.errors import UnstableKappaError
from entro_net.model.sync import (
    SeedLawState,
    check_kappa,
    linear_sync,
    resilient_sync,
    seed_sync,
)


def test_linear_law_with_kappa_one_third_moves_three_nodes_to_their_mean() -> None:
    raw = np.array([[0.1, 0.4, 0.7]])
    synced = linear_sync(raw, np.ones_like(raw, dtype=bool), np.array([1 / 3]))
    assert synced == pytest.approx(np.full((1, 3), 0.4))


def test_linear_law_matches_the_written_sum_for_a_small_kappa() -> None:
    raw = np.array([[0.2, 0.5, 0.9]])
    synced = linear_sync(raw, np.ones_like(raw, dtype=bool), np.array([0.1]))
    # s_0 = 0.2 + 0.1·((0.5−0.2) + (0.9−0.2)) = 0.3
    assert synced[0] == pytest.approx([0.3, 0.5 + 0.1 * (-0.3 + 0.4), 0.9 - 0.1 * 1.1])


def test_a_node_not_taking_part_keeps_its_reading_and_moves_nobody() -> None:
    raw = np.array([[0.2, 0.4, 1.9]])
    mask = np.array([[True, True, False]])
    synced = linear_sync(raw, mask, np.array([0.5]))
    assert synced[0] == pytest.approx([0.3, 0.3, 1.9])


def test_unstable_kappa_is_refused_naming_the_bound() -> None:
    with pytest.raises(UnstableKappaError, match=r"kappa < 0\.2"):
        check_kappa(0.2, 10)
    check_kappa(0.19, 10)
    check_kappa(0.5, 10, force=True)


def test_resilient_law_drops_the_largest_above_and_smallest_below() -> None:
    raw = np.array([[0.1, 0.3, 0.4, 0.5, 2.0]])
    synced = resilient_sync(raw, np.ones_like(raw, dtype=bool), 1)
    # node 2 (0.4) drops 2.0 above and 0.1 below, keeps 0.3 and 0.5: mean 0.4
    assert synced[0, 2] == pytest.approx(0.4)
    # node 1 (0.3) drops 2.0 and 0.1, keeps 0.4 and 0.5: mean of 0.3,0.4,0.5
    assert synced[0, 1] == pytest.approx(0.4)
    # node 4 (2.0) has nothing above; drops 0.1 below, keeps 0.3,0.4,0.5
    assert synced[0, 4] == pytest.approx((2.0 + 0.3 + 0.4 + 0.5) / 4)


def test_seed_law_first_step_matches_the_reference_rules() -> None:
    raw = np.array([[0.2, 0.5]])
    state = SeedLawState.start(1)
    synced = seed_sync(raw, np.ones_like(raw, dtype=bool), np.array([1.0]), state)
    var_r = 0.0225
    stress = var_r + 0.3 * abs(0.5 - 0.339) + 0.2 * (0.139 + 0.161) / 2
    reward = (1.0 - var_r) / 1.0
    target = 1.0 + 3.0 * stress - 0.5 * reward
    alpha = 1.0 + 0.05 * (target - 1.0)
    d = 0.3
    expected_0 = 0.2 + alpha * d + alpha**2 * d**3
    expected_1 = 0.5 - alpha * d - alpha**2 * d**3
    assert state.alpha[0] == pytest.approx(alpha)
    assert synced[0] == pytest.approx([expected_0, expected_1])


def test_seed_law_clips_to_the_unit_interval() -> None:
    raw = np.array([[0.0, 1.0, 1.0, 1.0]])
    state = SeedLawState.start(1)
    synced = seed_sync(raw, np.ones_like(raw, dtype=bool), np.array([1.0]), state)
    assert np.all((synced >= 0.0) & (synced <= 1.0))
    assert synced[0, 0] == 1.0
