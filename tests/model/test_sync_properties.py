"""Properties of the sync laws that must hold for every input (hypothesis)."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from entro_net.model.sync import SeedLawState, linear_sync, resilient_sync, seed_sync

readings = st.floats(-2.0, 3.0, allow_nan=False)


@st.composite
def network(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Readings of 2..12 nodes and who takes part (at least one)."""
    n = draw(st.integers(2, 12))
    raw = np.array([draw(st.lists(readings, min_size=n, max_size=n))])
    mask = np.array([draw(st.lists(st.booleans(), min_size=n, max_size=n))])
    assume(mask.any())
    return raw, mask


@settings(max_examples=200, deadline=None)
@given(network(), st.floats(0.0, 1.0))
def test_linear_law_keeps_the_mean_and_never_widens_the_spread(
    net: tuple[np.ndarray, np.ndarray], share: float
) -> None:
    raw, mask = net
    n = int(mask.sum())
    kappa = share / n  # κ·n ≤ 1
    synced = linear_sync(raw, mask, np.array([kappa]))

    inside, before = synced[mask], raw[mask]
    assert np.all(np.isfinite(inside))
    assert abs(np.mean(inside) - np.mean(before)) < 1e-9
    assert np.ptp(inside) <= np.ptp(before) + 1e-9
    assert np.array_equal(synced[~mask], raw[~mask])


@st.composite
def attacked(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """Healthy readings in [0, 1], up to F faulty ones anywhere, shuffled."""
    f = draw(st.integers(1, 3))
    healthy = draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8))
    faulty = draw(
        st.lists(st.floats(-50.0, 50.0, allow_nan=False), min_size=0, max_size=f)
    )
    values = np.array(healthy + faulty)
    is_healthy = np.array([True] * len(healthy) + [False] * len(faulty))
    order = np.array(draw(st.permutations(range(values.size))))
    return values[order][None, :], is_healthy[order], f


@settings(max_examples=200, deadline=None)
@given(attacked())
def test_resilient_law_keeps_healthy_nodes_inside_the_healthy_range(
    case: tuple[np.ndarray, np.ndarray, int],
) -> None:
    raw, healthy, tolerate = case
    synced = resilient_sync(raw, np.ones_like(raw, dtype=bool), tolerate)
    low, high = raw[0, healthy].min(), raw[0, healthy].max()
    assert np.all(synced[0, healthy] >= low - 1e-9)
    assert np.all(synced[0, healthy] <= high + 1e-9)


def sync_all_laws(raw: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    return [
        linear_sync(raw, mask, np.array([1.0 / max(int(mask.sum()), 1)])),
        resilient_sync(raw, mask, 1),
        seed_sync(raw, mask, np.array([1.0]), SeedLawState.start(1)),
    ]


@settings(max_examples=150, deadline=None)
@given(network(), readings)
def test_an_isolated_node_moves_nobody(
    net: tuple[np.ndarray, np.ndarray], other: float
) -> None:
    raw, mask = net
    assume(not mask.all())
    out = int(np.flatnonzero(~mask[0])[0])
    changed = raw.copy()
    changed[0, out] = other

    for before, after in zip(
        sync_all_laws(raw, mask), sync_all_laws(changed, mask), strict=True
    ):
        assert np.array_equal(before[mask], after[mask])
        assert after[0, out] == other  # it keeps its own reading
