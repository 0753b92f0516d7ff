"""One network step (MODEL.md §2 order) and the Lyapunov candidate (§6)."""

import numpy as np
import pytest

from entro_net.config import ModelConfig
from entro_net.model.network import NetworkState, network_step, v_net


def test_v_net_is_half_the_squared_distance_to_target_of_nodes_taking_part() -> None:
    synced = np.array([[0.339, 0.439, 1.0]])
    taking_part = np.array([[True, True, False]])
    assert v_net(synced, taking_part)[0] == pytest.approx(0.5 * 0.1**2)


def test_v_net_sums_over_every_node_taking_part() -> None:
    synced = np.array([[0.239, 0.539]])
    assert v_net(synced, np.ones((1, 2), dtype=bool))[0] == pytest.approx(
        0.5 * (0.01 + 0.04)
    )


def test_a_node_isolated_in_this_step_already_takes_no_part_in_its_sync() -> None:
    config = ModelConfig()
    state = NetworkState.start(1, 3, config)
    present = np.ones((1, 3), dtype=bool)
    for k in range(2):
        outcome = network_step(config, state, np.array([[0.3, 0.5, 2.0]]), present, k)
        assert outcome.synced[0] == pytest.approx([0.9333333, 0.9333333, 0.9333333])

    # third reading above 0.8: isolated before this step's sync
    outcome = network_step(config, state, np.array([[0.3, 0.5, 2.0]]), present, 2)

    assert [d.node for d in outcome.decisions] == [2]
    assert outcome.taking_part[0].tolist() == [True, True, False]
    assert outcome.synced[0] == pytest.approx([0.4, 0.4, 2.0])
    assert outcome.var[0] == pytest.approx(0.0)
    assert outcome.network_error[0] == pytest.approx(0.4 - 0.339)
    assert outcome.v_net[0] == pytest.approx(0.5 * 2 * (0.4 - 0.339) ** 2)


def test_theta_computed_in_a_step_takes_effect_at_the_next() -> None:
    config = ModelConfig(theta_base=1.2, gamma=2.5, exchange=False)
    state = NetworkState.start(1, 2, config)
    present = np.ones((1, 2), dtype=bool)
    first = network_step(config, state, np.array([[0.2, 0.6]]), present, 0)
    second = network_step(config, state, np.array([[0.3, 0.3]]), present, 1)
    assert first.theta_in_force[0] == pytest.approx(1.2)
    assert first.theta_next[0] == pytest.approx(1.2 + 2.5 * 0.04)
    assert second.theta_in_force[0] == pytest.approx(1.2 + 2.5 * 0.04)
    assert second.theta_next[0] == pytest.approx(1.2 + 2.5 * 0.02)
