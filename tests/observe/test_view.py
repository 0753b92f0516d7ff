"""The live view's model in memory: rows, states, rates, drops, the header."""

from __future__ import annotations

import pytest

from entro_net.observe.view import NetworkView, NodeRow, RowState
from entro_net.protocol import MemberStatus
from tests.observe.messages import (
    beat,
    isolate,
    leave,
    membership,
    readmit,
    state,
    threshold,
)

ALIVE = MemberStatus.ALIVE


def a_view() -> NetworkView:
    return NetworkView(suspect_after_s=1.5, dead_after_s=4.0, away_after_s=3.0)


def by_node(view: NetworkView, now: float) -> dict[str, NodeRow]:
    return {row.node: row for row in view.rows(now)}


def test_members_and_their_states_make_one_row_each_in_index_order() -> None:
    view = a_view()
    view.feed(membership(0, ("b", 1, ALIVE), ("a", 0, ALIVE)), 0.0)
    view.feed(state("a", 0, psi=0.41, raw=0.40), 0.1)
    view.feed(state("b", 0, psi=0.42, raw=0.45), 0.1)

    rows = view.rows(0.2)

    assert [r.node for r in rows] == ["a", "b"]
    assert [r.state for r in rows] == [RowState.ACTIVE, RowState.ACTIVE]
    assert rows[1].psi == 0.42
    assert rows[1].delta == pytest.approx(0.42 - 0.45)
    assert rows[1].weights == (0.5, 0.3, 0.2)


def test_a_silent_node_turns_suspect_then_dead() -> None:
    view = a_view()
    view.feed(state("a", 0), 0.0)

    assert view.rows(1.0)[0].state is RowState.ACTIVE
    assert view.rows(2.0)[0].state is RowState.SUSPECT
    assert view.rows(5.0)[0].state is RowState.DEAD
    assert view.rows(5.0)[0].age_s == pytest.approx(5.0)


def test_the_coordinators_word_on_status_counts_before_the_watchers_timers() -> None:
    view = a_view()
    view.feed(state("a", 0), 0.0)
    view.feed(membership(0, ("a", 0, MemberStatus.SUSPECT)), 0.1)

    assert view.rows(0.2)[0].state is RowState.SUSPECT


def test_isolate_and_readmit_decisions_set_the_state_and_the_epoch() -> None:
    view = a_view()
    view.feed(state("a", 10), 0.0)
    assert view.header(0.0).epoch is None  # no decision seen yet
    view.feed(isolate("a", 11, epoch=1, seq=0), 0.1)

    assert view.rows(0.2)[0].state is RowState.ISOLATED
    assert view.header(0.2).epoch == 1
    assert view.header(0.2).isolated == ("a",)

    view.feed(readmit("a", 20, epoch=2, seq=1), 0.3)

    assert view.rows(0.4)[0].state is RowState.ACTIVE
    assert view.header(0.4).epoch == 2


def test_a_decision_with_an_old_epoch_changes_nothing() -> None:
    view = a_view()
    view.feed(state("a", 10), 0.0)
    view.feed(isolate("a", 11, epoch=5, seq=0), 0.1)
    view.feed(readmit("a", 12, epoch=4, seq=1), 0.2)

    assert view.rows(0.3)[0].state is RowState.ISOLATED
    assert view.header(0.3).epoch == 5


def test_a_nodes_own_isolated_flag_shows_when_no_decision_was_seen() -> None:
    view = a_view()
    view.feed(state("a", 3, isolated=True), 0.0)

    assert view.rows(0.1)[0].state is RowState.ISOLATED


def test_a_node_that_left_shows_as_left_and_is_forgotten_later() -> None:
    view = a_view()
    view.feed(state("a", 0), 0.0)
    view.feed(leave("a"), 0.5)

    assert view.rows(1.0)[0].state is RowState.LEFT
    assert view.rows(1.0)[0].rate_in == 0.0
    assert view.rows(100.0) == []


def test_rates_count_messages_out_and_what_peers_and_coordinator_publish() -> None:
    view = a_view()
    for i in range(50):
        t = i * 0.1
        view.feed(state("a", i), t)
        view.feed(state("b", i), t)
        view.feed(threshold(i + 1, 0.01), t)

    rows = by_node(view, 4.95)

    a = rows["a"]
    assert a.rate_out == pytest.approx(10.0, rel=0.05)
    # in: b's 10 a second plus the coordinator's 10
    assert a.rate_in == pytest.approx(20.0, rel=0.05)


def test_a_gap_in_a_nodes_sequence_counts_as_drops() -> None:
    view = a_view()
    view.feed(state("a", 0, seq=0), 0.0)
    view.feed(state("a", 1, seq=4), 0.1)

    assert view.rows(0.2)[0].drops == 3


def test_a_message_seen_twice_counts_once_and_is_no_drop() -> None:
    view = a_view()
    view.feed(beat("a", 0), 0.0)
    view.feed(beat("a", 0), 0.0)
    view.feed(state("a", 0), 0.0)

    assert view.messages == 2
    assert view.rows(0.1)[0].drops == 0


def test_the_header_carries_the_last_threshold_and_a_var_history() -> None:
    view = a_view()
    for step in range(1, 6):
        view.feed(threshold(step, step / 100), float(step))

    header = view.header(5.5)

    assert header.step == 5
    assert header.var == 0.05
    assert header.v_net == 0.1
    assert header.theta_net == pytest.approx(1.45)
    assert header.var_history == (0.01, 0.02, 0.03, 0.04, 0.05)
    assert not header.is_coordinator_away


def test_the_coordinator_shows_away_when_silent_and_back_when_it_speaks() -> None:
    view = a_view()
    assert view.header(0.0).is_coordinator_away  # never heard yet
    view.feed(threshold(1, 0.0), 0.0)
    view.feed(state("a", 0), 0.0)
    for i in range(1, 60):
        view.feed(state("a", i), i * 0.1)

    assert view.header(5.9).is_coordinator_away
    assert view.rows(5.9)[0].state is RowState.ACTIVE  # nodes still flow

    view.feed(threshold(1, 0.0, incarnation=2), 6.0)
    assert not view.header(6.1).is_coordinator_away


def test_a_restarted_coordinator_may_count_epochs_from_one_again() -> None:
    view = a_view()
    view.feed(state("a", 1), 0.0)
    view.feed(isolate("a", 1, epoch=3), 0.0)
    restarted = readmit("a", 5, epoch=1).model_copy(update={"incarnation": 2})
    view.feed(restarted, 1.0)

    assert view.rows(1.1)[0].state is RowState.ACTIVE
    assert view.header(1.1).epoch == 1


def test_heartbeats_of_unknown_senders_make_no_row() -> None:
    view = a_view()
    view.feed(beat("health-probe-1", 0), 0.0)

    assert view.rows(0.1) == []
