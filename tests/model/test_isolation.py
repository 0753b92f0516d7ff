"""Fault isolation (MODEL.md §5): the 3-of-5 rule, readmission, epochs, views."""

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from entro_net.model.isolation import (
    Decision,
    DecisionKind,
    IsolationState,
    IsolationView,
)

RULE = {"psi_critical": 0.8, "readmit_below": 0.4, "readmit_after": 5}


def feed(
    state: IsolationState, rows: list[list[float]], start: int = 0
) -> list[list[Decision]]:
    """Feed one row of readings a step; returns the decisions of every step."""
    present = np.ones((1, len(rows[0])), dtype=bool)
    return [
        state.step(np.array([row]), present, start + k, **RULE)
        for k, row in enumerate(rows)
    ]


def test_three_of_the_last_five_readings_above_critical_isolate() -> None:
    state = IsolationState.start((1, 1))
    decisions = feed(state, [[0.9], [0.1], [0.9], [0.1], [0.9]])
    assert [len(d) for d in decisions] == [0, 0, 0, 0, 1]
    assert decisions[4][0] == Decision(DecisionKind.ISOLATE, 0, 4, 1, 0)
    assert state.isolated[0, 0]


def test_two_of_five_or_readings_at_exactly_critical_do_not_isolate() -> None:
    state = IsolationState.start((1, 1))
    feed(state, [[0.9], [0.9], [0.8], [0.8], [0.1], [0.8]])
    assert not state.isolated[0, 0]


def test_readings_older_than_five_steps_do_not_count() -> None:
    state = IsolationState.start((1, 1))
    feed(state, [[0.9], [0.9], [0.1], [0.1], [0.1], [0.1], [0.9]])
    assert not state.isolated[0, 0]


def test_readmission_after_r_calm_readings_in_a_row() -> None:
    state = IsolationState.start((1, 1))
    feed(state, [[2.0]] * 3)
    calm = feed(state, [[0.3]] * 4 + [[0.5]] + [[0.3]] * 5, start=3)
    # four calm, one at 0.5 resets the streak, then five calm readmit
    assert [len(d) for d in calm] == [0] * 9 + [1]
    assert calm[-1][0].kind is DecisionKind.READMIT
    assert calm[-1][0].epoch == 2
    assert not state.isolated[0, 0]


def test_a_readmitted_node_starts_a_fresh_window() -> None:
    state = IsolationState.start((1, 1))
    feed(state, [[2.0]] * 3 + [[0.3]] * 5)
    assert not state.isolated[0, 0]
    again = feed(state, [[2.0], [2.0], [2.0]], start=8)
    assert [len(d) for d in again] == [0, 0, 1]


def test_at_most_one_node_is_readmitted_a_step_longest_calm_first() -> None:
    state = IsolationState.start((1, 3))
    feed(state, [[2.0, 2.0, 0.1]] * 3)
    assert state.isolated[0].tolist() == [True, True, False]
    decisions = feed(state, [[0.3, 0.3, 0.1]] * 6, start=3)
    readmitted = [(d.node, d.step, d.epoch) for step in decisions for d in step]
    # both calm for 5 steps at step 7; node 0 first, node 1 one step later
    assert readmitted == [(0, 7, 3), (1, 8, 4)]


def test_epochs_grow_by_one_with_every_decision() -> None:
    state = IsolationState.start((1, 2))
    rows = [[2.0, 0.1]] * 3 + [[2.0, 2.0]] * 3 + [[0.1, 0.1]] * 7
    decisions = [d for step in feed(state, rows) for d in step]
    assert [d.epoch for d in decisions] == [1, 2, 3, 4]
    assert [d.kind for d in decisions] == [
        DecisionKind.ISOLATE,
        DecisionKind.ISOLATE,
        DecisionKind.READMIT,
        DecisionKind.READMIT,
    ]


def test_absent_nodes_and_a_disabled_rule_isolate_nobody() -> None:
    state = IsolationState.start((1, 2))
    present = np.array([[True, False]])
    for k in range(5):
        state.step(np.array([[0.1, 2.0]]), present, k, **RULE)
    assert not state.isolated.any()

    off = IsolationState.start((1, 1))
    for k in range(5):
        assert (
            off.step(np.array([[2.0]]), present[:, :1], k, **RULE, enabled=False) == []
        )
    assert not off.isolated.any()


def test_runs_are_isolated_independently_with_their_own_epochs() -> None:
    state = IsolationState.start((2, 1))
    present = np.ones((2, 1), dtype=bool)
    for k in range(3):
        decisions = state.step(np.array([[2.0], [0.1]]), present, k, **RULE)
    assert [(d.run, d.epoch) for d in decisions] == [(0, 1)]
    assert state.epoch.tolist() == [1, 0]


decision_kinds = st.sampled_from([DecisionKind.ISOLATE, DecisionKind.READMIT])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(decision_kinds, st.sampled_from(["a", "b", "c"])),
        min_size=1,
        max_size=12,
    ),
    st.randoms(use_true_random=False),
    st.integers(0, 12),
)
def test_a_stale_or_repeated_decision_never_undoes_a_newer_epoch(
    made: list[tuple[DecisionKind, str]], rng: random.Random, repeats: int
) -> None:
    decisions = [(kind, node, epoch) for epoch, (kind, node) in enumerate(made, 1)]
    delivered = decisions + [rng.choice(decisions) for _ in range(repeats)]
    rng.shuffle(delivered)

    view = IsolationView()
    for kind, node, epoch in delivered:
        view.apply(kind, node, epoch)

    latest: dict[str, DecisionKind] = {}
    for kind, node, _ in decisions:
        latest[node] = kind
    expected = {node for node, kind in latest.items() if kind is DecisionKind.ISOLATE}
    assert view.isolated == expected
    assert view.epoch == len(decisions)


def test_a_repeated_decision_is_reported_as_no_change() -> None:
    view = IsolationView()
    assert view.apply(DecisionKind.ISOLATE, "a", 3)
    assert not view.apply(DecisionKind.ISOLATE, "a", 3)
    assert not view.apply(DecisionKind.READMIT, "a", 2)
    assert view.is_isolated("a")
