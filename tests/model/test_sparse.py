"""The linear law over a sparse circulant graph."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from entro_net.config import ModelConfig
from entro_net.model.sparse import circulant_neighbours, sparse_sync
from entro_net.sim.simulator import RunSpec, Simulator


def test_circulant_graph_is_symmetric_with_k_neighbours() -> None:
    neighbours = circulant_neighbours(12, 4)
    assert neighbours.shape == (12, 4)
    for i in range(12):
        assert i not in neighbours[i]
        for j in neighbours[i]:
            assert i in neighbours[j]


def test_one_step_on_a_ring_uses_metropolis_weights() -> None:
    raw = np.array([[0.0, 0.3, 0.6, 0.9]])
    neighbours = circulant_neighbours(4, 2)
    synced = sparse_sync(raw, np.ones_like(raw, dtype=bool), neighbours)
    # degree 2 everywhere: w = 1/3 to each neighbour
    assert synced[0, 1] == np.float64(0.3 + (0.0 - 0.3) / 3 + (0.6 - 0.3) / 3)
    assert abs(synced[0, 0] - (0.0 + 0.9 / 3 + 0.3 / 3)) < 1e-15


@settings(max_examples=60, deadline=None)
@given(
    raw=arrays(np.float64, 30, elements=st.floats(-5, 5)),
    out=arrays(np.bool_, 30),
    degree=st.integers(2, 10),
)
def test_sparse_law_keeps_the_mean_and_range_and_leaves_outsiders_alone(
    raw: np.ndarray, out: np.ndarray, degree: int
) -> None:
    taking_part = ~out
    synced = sparse_sync(
        raw[None], taking_part[None], circulant_neighbours(30, degree)
    )[0]

    assert np.array_equal(synced[out], raw[out])
    if taking_part.any():
        inside = raw[taking_part]
        assert abs(synced[taking_part].mean() - inside.mean()) < 1e-9
        assert synced[taking_part].min() >= inside.min() - 1e-12
        assert synced[taking_part].max() <= inside.max() + 1e-12


def test_large_sparse_network_settles_far_below_the_unsynced_variance() -> None:
    runs = [RunSpec(2000, 0)]
    synced = Simulator(ModelConfig(degree=8), runs, 200, seed=1, learn=False).run()
    alone = Simulator(
        ModelConfig(degree=8, exchange=False), runs, 200, seed=1, learn=False
    ).run()
    assert synced.var_last()[0] < 0.2 * alone.var_last()[0]
