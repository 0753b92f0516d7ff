"""The seed's own example loop, run with scripted nodes through our API."""

from collections.abc import Iterator

import numpy as np
import pytest

from entro_net import CollectiveAEW, NetThreshold, PsiSync


class ScriptedNode:
    """A node whose observe() returns the next of a fixed list of readings."""

    def __init__(self, readings: list[float]) -> None:
        self._readings: Iterator[float] = iter(readings)

    def observe(self) -> float:
        return next(self._readings)


STEPS = 10
# node 2 is driven above Ψ_critical = 0.8 from step 2 on
SCRIPT = [
    [0.2, 0.3, 0.25, 0.35, 0.3, 0.2, 0.3, 0.25, 0.35, 0.3],
    [0.4, 0.5, 0.45, 0.35, 0.5, 0.4, 0.5, 0.45, 0.35, 0.5],
    [0.3, 0.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.2],
]


def run_seed_example() -> dict[str, list]:
    """The seed's loop, step for step, recording what it computes."""
    nodes = [ScriptedNode(script) for script in SCRIPT]
    sync = PsiSync(n_nodes=3)
    collective = CollectiveAEW(eta=0.01, target=0.339)
    threshold = NetThreshold(theta_base=1.2)
    seen: dict[str, list] = {"raw": [], "synced": [], "weights": [], "theta": []}
    seen["faults"] = []
    for _ in range(STEPS):
        psi_states = [node.observe() for node in nodes]
        synced_psi = sync.broadcast(psi_states)
        weights = collective.step(synced_psi)
        theta = threshold.update(synced_psi)
        faulty = sync.detect_fault(psi_states)
        for faulty_id in faulty:
            sync.isolate_node(faulty_id)
        for key, value in zip(
            seen, (psi_states, synced_psi, weights, theta, faulty), strict=True
        ):
            seen[key].append(value)
    seen["isolated"] = sync.isolated
    return seen


def test_synced_values_are_the_mean_under_kappa_auto() -> None:
    seen = run_seed_example()
    for k in range(5):
        assert seen["synced"][k] == pytest.approx([np.mean(seen["raw"][k])] * 3)
    assert seen["synced"][0] == pytest.approx([0.3, 0.3, 0.3])


def test_a_node_above_critical_is_detected_at_its_third_reading() -> None:
    seen = run_seed_example()
    # readings above 0.8 at steps 2, 3, 4: detected at step 4
    assert seen["faults"] == [[], [], [], [], [2], [], [], [], [], []]
    assert seen["isolated"] == [2]


def test_an_isolated_node_then_moves_nobody_and_keeps_its_reading() -> None:
    seen = run_seed_example()
    for k in range(5, STEPS):
        healthy_mean = (seen["raw"][k][0] + seen["raw"][k][1]) / 2
        assert seen["synced"][k][:2] == pytest.approx([healthy_mean] * 2)
        assert seen["synced"][k][2] == seen["raw"][k][2]
    assert seen["synced"][5] == pytest.approx([0.3, 0.3, 1.8])


def test_theta_follows_the_mean_variance_of_the_synced_values() -> None:
    seen = run_seed_example()
    # Var = 0 while every node holds the mean: θ = θ_base
    assert seen["theta"][:5] == pytest.approx([1.2] * 5)
    # The seed's loop hands every synced value to the threshold, the isolated
    # node's too, so it counts in Var here (MODEL.md §4 counts only the nodes
    # taking part; the simulator does).
    # step 5: synced [0.3, 0.3, 1.8], Var 0.5, mean Var over 6 steps 0.5/6
    assert seen["theta"][5] == pytest.approx(1.2 + 2.5 * 0.5 / 6)
    # step 6: [0.4, 0.4, 1.9], Var 0.5 again: mean 1.0/7 gives 1.557 ...
    assert seen["theta"][6] == pytest.approx(1.2 + 2.5 * 1.0 / 7)
    # steps 7, 8, 9: the isolated node drifts further; Var 0.605, 0.6806, 0.72
    var_8 = (2 * (0.35 - 2.8 / 3) ** 2 + (2.1 - 2.8 / 3) ** 2) / 3
    assert seen["theta"][9] == pytest.approx(
        1.2 + 2.5 * (0.5 + 0.5 + 0.605 + var_8 + 0.72) / 10
    )
    assert seen["theta"][9] == pytest.approx(1.9514, abs=1e-4)


def test_the_weights_learn_and_stay_a_valid_mix() -> None:
    seen = run_seed_example()
    final = np.array(seen["weights"][-1])
    assert final.shape == (3, 3)
    assert np.sum(final, axis=1) == pytest.approx([1.0, 1.0, 1.0])
    assert np.all((final >= 1 / 17) & (final <= 0.8))
    # nodes 0 and 1 always hold the same synced value, so learn the same
    assert final[0] == pytest.approx(final[1])
    assert not np.allclose(final[2], final[0])
    assert not np.allclose(final[0], [0.5, 0.3, 0.2])


def test_isolating_an_isolated_node_again_changes_nothing() -> None:
    sync = PsiSync(n_nodes=3)
    sync.isolate_node(1)
    sync.isolate_node(1)
    assert sync.isolated == [1]
    assert sync.broadcast([0.2, 5.0, 0.4]) == pytest.approx([0.3, 5.0, 0.3])
