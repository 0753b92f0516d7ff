"""Collective-AEW (MODEL.md §3) one step at a time, against hand computation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entro_net.model.aew import AewState, Derivatives, aew_step, normalise_weights

ALL = np.ones((1, 1), dtype=bool)


def one(value: float) -> np.ndarray:
    return np.array([[value]])


def test_first_step_from_the_start_weights_by_hand() -> None:
    state = AewState.start((1, 1), beta=0.3)
    aew_step(state, one(0.5), one(0.1), one(0.02), one(0.161), ALL, eta=0.01)

    e = 0.5 - 0.339
    # one |e| known: c = 1; local gradient 2e·[1 − s, Ψ̇, Ψ̈]
    local = [2 * e * 0.5, 2 * e * 0.1, 2 * e * 0.02]
    # one error known: ρ_β = −|mean network error| = −0.161, |ρ_β| > 0.05
    beta = 0.3 - 0.02 * (-0.161)
    # five or fewer errors known: τ is the network's mean error
    collective = beta * 0.161
    velocity = [-0.01 * (g + collective) for g in local]
    weights = [w + v for w, v in zip([0.5, 0.3, 0.2], velocity, strict=True)]
    weights = [w / sum(weights) for w in weights]

    assert state.beta[0, 0] == pytest.approx(beta)
    assert state.velocity[0, 0] == pytest.approx(velocity)
    assert state.weights[0, 0] == pytest.approx(weights)
    assert state.recent(1)[0, 0] == pytest.approx(e)


def test_a_step_with_history_uses_the_trend_scale_and_momentum() -> None:
    state = AewState.start((1, 1), beta=0.3)
    state.errors[0, 0, :6] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    state.written[0, 0] = 6
    state.weights[0, 0] = [0.79, 0.11, 0.10]
    state.velocity[0, 0] = [0.02, 0.0, 0.0]

    aew_step(state, one(0.439), one(0.0), one(0.0), one(0.02), ALL, eta=0.01)

    # E = 0.1 .. 0.6 then |e| = 0.1: c = 1 + mean(E) = 1 + 2.2/7
    scale = 1.0 + 2.2 / 7.0
    local_1 = scale * 2.0 * 0.1 * (1.0 - 0.439)
    # ρ_β = 10·(E[−2] − |mean network error|) = 10·(0.6 − 0.02) = 5.8
    beta = 0.3 - 0.02 * 5.8
    # τ = (E[−1] − E[−5]) / 5 = (0.1 − 0.3) / 5
    collective = beta * (0.1 - 0.3) / 5.0
    velocity = [
        0.9 * 0.02 - 0.01 * (local_1 + collective),
        -0.01 * collective,
        -0.01 * collective,
    ]
    # w1 = 0.79 + 0.0166 > 0.8 is clipped before the division
    raw = [0.8, 0.11 + velocity[1], 0.10 + velocity[2]]
    weights = [w / sum(raw) for w in raw]

    assert state.beta[0, 0] == pytest.approx(0.184)
    assert state.velocity[0, 0] == pytest.approx(velocity)
    assert state.weights[0, 0] == pytest.approx(weights)


def test_beta_drifts_toward_one_half_when_the_reward_is_small() -> None:
    state = AewState.start((1, 1), beta=0.3)
    state.errors[0, 0, 0] = 0.2
    state.written[0, 0] = 1
    # E[−2] = 0.2 and |mean network error| = 0.2: ρ_β = 0
    aew_step(state, one(0.339), one(0.0), one(0.0), one(-0.2), ALL, eta=0.01)
    assert state.beta[0, 0] == pytest.approx(0.3 + 0.002 * (0.5 - 0.3))


def test_beta_is_clipped_to_its_range() -> None:
    high = AewState.start((1, 1), beta=1.99)
    high.errors[0, 0, 0] = 0.0
    high.written[0, 0] = 1
    # ρ_β = 10·(0 − 1.0) = −10: β would rise by 0.2
    aew_step(high, one(0.339), one(0.0), one(0.0), one(1.0), ALL, eta=0.01)
    assert high.beta[0, 0] == 2.0

    low = AewState.start((1, 1), beta=0.11)
    low.errors[0, 0, 0] = 1.0
    low.written[0, 0] = 1
    aew_step(low, one(0.339), one(0.0), one(0.0), one(0.0), ALL, eta=0.01)
    assert low.beta[0, 0] == 0.1


def test_a_node_not_stepping_keeps_its_weights_and_history() -> None:
    state = AewState.start((1, 2), beta=0.3)
    stepping = np.array([[True, False]])
    aew_step(
        state,
        np.array([[0.9, 0.9]]),
        np.zeros((1, 2)),
        np.zeros((1, 2)),
        np.array([[0.5]]),
        stepping,
        eta=0.01,
    )
    assert state.weights[0, 1] == pytest.approx([0.5, 0.3, 0.2])
    assert state.written[0, 1] == 0
    assert state.written[0, 0] == 1
    assert not np.allclose(state.weights[0, 0], [0.5, 0.3, 0.2])


def test_weight_normalisation_clips_then_divides() -> None:
    weights = normalise_weights(np.array([0.95, 0.0, 0.3]))
    assert weights == pytest.approx(np.array([0.8, 0.1, 0.3]) / 1.2)


def test_derivatives_are_first_and_second_differences_of_the_readings() -> None:
    derivatives = Derivatives.start((1, 1))
    seen = [derivatives.push(one(x), ALL) for x in (0.2, 0.5, 0.6)]
    assert [float(d1[0, 0]) for d1, _ in seen] == pytest.approx([0.0, 0.3, 0.1])
    assert [float(d2[0, 0]) for _, d2 in seen] == pytest.approx([0.0, 0.0, -0.2])


step_values = st.tuples(
    st.floats(-1.0, 3.0),
    st.floats(-5.0, 5.0),
    st.floats(-5.0, 5.0),
    st.floats(-2.0, 2.0),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(step_values, min_size=1, max_size=40),
    st.floats(0.1, 2.0),
    st.floats(0.0, 0.5),
)
def test_weights_stay_in_range_and_sum_to_one(
    steps: list[tuple[float, float, float, float]], beta: float, eta: float
) -> None:
    state = AewState.start((1, 2), beta=beta)
    for synced, d1, d2, network_error in steps:
        aew_step(
            state,
            np.array([[synced, 1.0 - synced]]),
            np.array([[d1, -d1]]),
            np.array([[d2, d2]]),
            np.array([[network_error]]),
            np.ones((1, 2), dtype=bool),
            eta=eta,
        )
        assert np.all(state.weights >= 1.0 / 17.0 - 1e-12)
        assert np.all(state.weights <= 0.8 + 1e-12)
        assert np.sum(state.weights, axis=-1) == pytest.approx(np.ones((1, 2)))
        assert np.all((state.beta >= 0.1) & (state.beta <= 2.0))
