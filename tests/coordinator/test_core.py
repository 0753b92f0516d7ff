"""The coordinator's core in memory: membership, liveness, θ_net, isolation."""

from __future__ import annotations

import numpy as np
import pytest

from entro_net.config import FREE_THETA_AT, Clock, ModelConfig
from entro_net.coordinator.core import CoordinatorCore
from entro_net.protocol import (
    Heartbeat,
    Hello,
    Isolate,
    Leave,
    Membership,
    MemberStatus,
    NodeState,
    Readmit,
    State,
    Threshold,
    Welcome,
)
from tests.node.harness import NET, Wire, coordinator, make_node

MODEL = ModelConfig()


def hello(node: str, *, index: int | None = None, incarnation: int = 1) -> Hello:
    return Hello(
        node=node,
        incarnation=incarnation,
        seq=0,
        ts=0.0,
        endpoint=f"tcp://127.0.0.1:{21000 + len(node)}",
        index=index,
    )


def beat(node: str, incarnation: int = 1) -> Heartbeat:
    return Heartbeat(
        node=node, incarnation=incarnation, seq=0, ts=0.0, step=0,
        state=NodeState.JOINING,
    )  # fmt: skip


def state(node: str, step: int, raw: float, *, psi: float | None = None) -> State:
    value = raw if psi is None else psi
    return State(node, 1, step, 0.0, step, raw, value, value - 0.339,
                 0.5, 0.3, 0.2, 1.4, False, 0.0)  # fmt: skip


def replies(core: CoordinatorCore) -> list[tuple[bytes, object]]:
    return core.drain().reply


def test_hello_gets_a_welcome_with_the_asked_index_and_the_peers() -> None:
    core = coordinator(MODEL)
    core.on_hello(hello("a", index=3), b"A", 0.0)
    core.on_hello(hello("b"), b"B", 0.0)
    out = core.drain()
    welcomes = {conn: m for conn, m in out.reply if isinstance(m, Welcome)}

    assert welcomes[b"A"].index == 3
    assert welcomes[b"B"].index == 0
    assert [p.node for p in welcomes[b"B"].peers] == ["a"]
    assert len(out.connect) == 2
    assert any(isinstance(m, Membership) for m in out.publish)


def test_a_taken_index_gives_the_smallest_free_one() -> None:
    core = coordinator(MODEL)
    core.on_hello(hello("a", index=0), b"A", 0.0)
    core.on_hello(hello("b", index=0), b"B", 0.0)
    assert core.members["b"].index == 1


def test_members_are_held_until_the_expected_number_was_heard() -> None:
    core = coordinator(MODEL, expect=2)
    core.on_hello(hello("a"), b"A", 0.0)
    core.on_heartbeat(beat("a"), None, 0.1)
    core.tick(0.1)
    assert core.members["a"].since is None

    core.on_hello(hello("b"), b"B", 0.2)
    core.tick(0.2)
    assert core.members["a"].since is None, "b not yet heard on its PUB"
    core.on_heartbeat(beat("b"), None, 0.3)
    core.tick(0.3)
    out = core.drain()
    assert core.members["a"].since == 0 and core.members["b"].since == 0
    direct = [conn for conn, m in out.reply if isinstance(m, Membership)]
    assert sorted(direct) == [b"A", b"B"]


def ticks(core: CoordinatorCore, start: float, end: float) -> None:
    """Tick as the server loop does, at least every 50 ms, from start to end."""
    for i in range(round((end - start) / 0.05) + 1):
        core.tick(start + 0.05 * i)


def test_silent_member_turns_suspect_then_dead_and_stops_counting() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.on_hello(hello("a"), b"A", 0.0)
    core.on_hello(hello("b"), b"B", 0.0)
    beat_s = NET.heartbeat_interval_s
    ticks(core, 0.0, NET.suspect_after * beat_s)
    core.on_heartbeat(beat("a"), b"A", NET.suspect_after * beat_s + 0.1)
    core.tick(NET.suspect_after * beat_s + 0.2)
    assert core.members["b"].status is MemberStatus.SUSPECT
    assert core.members["a"].status is MemberStatus.ALIVE

    ticks(core, NET.suspect_after * beat_s + 0.25, NET.dead_after * beat_s)
    core.on_heartbeat(beat("a"), b"A", NET.dead_after * beat_s)
    core.tick(NET.dead_after * beat_s + 0.1)
    assert core.members["b"].status is MemberStatus.DEAD
    assert [m.node for m in core.live()] == ["a"]


def test_the_coordinators_own_stall_is_nobodys_silence() -> None:
    # Stopped (SIGSTOP, a starved machine) for longer than it takes to
    # suspect a member: the members' heartbeats of that time may still sit
    # in the sockets when the coordinator first looks again.
    core = coordinator(MODEL, Clock.FREE)
    core.on_hello(hello("a"), b"A", 0.0)
    beat_s = NET.heartbeat_interval_s
    ticks(core, 0.0, 0.2)
    stall = (NET.suspect_after + 2) * beat_s
    core.tick(0.2 + stall)
    assert core.members["a"].status is MemberStatus.ALIVE
    assert not [e for e in core.drain_events() if e[1] == "heartbeat_missed"]
    # Silence after the stall still counts.
    ticks(core, 0.25 + stall, 0.3 + stall + NET.suspect_after * beat_s)
    assert core.members["a"].status is MemberStatus.SUSPECT


def test_a_newer_incarnation_replaces_the_member_at_once() -> None:
    core = coordinator(MODEL)
    core.on_hello(hello("a", incarnation=1), b"A1", 0.0)
    core.drain()
    fresh = hello("a", incarnation=2).model_copy(update={"endpoint": "tcp://h:9"})
    core.on_hello(fresh, b"A2", 1.0)
    out = core.drain()
    assert core.members["a"].incarnation == 2
    assert core.members["a"].endpoint == "tcp://h:9"
    assert "tcp://127.0.0.1:21001" in out.disconnect


def test_an_older_incarnation_is_ignored() -> None:
    core = coordinator(MODEL)
    core.on_hello(hello("a", incarnation=5), b"A", 0.0)
    core.drain()
    core.on_hello(hello("a", incarnation=4), b"X", 1.0)
    assert core.members["a"].incarnation == 5
    assert not replies(core)


def test_lockstep_round_closes_when_every_member_delivered() -> None:
    core = coordinator(MODEL, expect=2)
    for node in ("a", "b"):
        core.on_hello(hello(node), node.encode(), 0.0)
        core.on_heartbeat(beat(node), None, 0.0)
    core.tick(0.0)
    core.drain()

    core.on_state(state("a", 0, 0.2), 0.1)
    core.tick(0.1)
    assert core.var_history == []
    core.on_state(state("b", 0, 0.6), 0.1)
    core.tick(0.1)
    out = core.drain()
    thresholds = [m for m in out.publish if isinstance(m, Threshold)]
    assert len(core.var_history) == 1
    assert thresholds[0].step == 1
    assert thresholds[0].n_taking_part == 2


def test_free_clock_isolates_a_node_on_its_readings_and_readmits_it() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.on_hello(hello("a"), b"A", 0.0)
    core.drain()
    for step in range(3):
        core.on_state(state("a", step, 1.5), 0.1 * step)
    out = core.drain()
    isolates = [m for m in out.publish if isinstance(m, Isolate)]
    assert [(m.target, m.step, m.epoch) for m in isolates] == [("a", 2, 1)]
    assert core.isolated == {"a"}

    for step in range(3, 3 + MODEL.readmit_after):
        core.on_state(state("a", step, 0.1), 0.1 * step)
    readmits = [m for m in core.drain().publish if isinstance(m, Readmit)]
    assert [m.epoch for m in readmits] == [2]
    assert core.isolated == set()


def test_free_clock_theta_comes_from_fresh_members_that_take_part() -> None:
    core = coordinator(MODEL, Clock.FREE)
    for node in ("a", "b", "c"):
        core.on_hello(hello(node), node.encode(), 0.0)
    core.on_state(state("a", 0, 0.3, psi=0.3), 0.0)
    core.on_state(state("b", 0, 0.5, psi=0.5), 0.0)
    core.on_state(state("c", 0, 0.9, psi=0.9), -10.0)  # long stale
    core.tick(core.next_tick)
    assert core.var_history == [pytest.approx(np.var([0.3, 0.5]))]
    assert core.n_history == [2]


def test_free_clock_theta_falls_between_the_nodes_ticks() -> None:
    # The nodes tick on the grid; θ_net comes FREE_THETA_AT of a period later,
    # after their states arrived and before they compute their next step.
    core = coordinator(MODEL, Clock.FREE)
    period = 1.0 / NET.rate
    for late in (0.0, 0.3, 2.7):  # also after a stall of several periods
        due = core.next_tick
        ticks = due / period - FREE_THETA_AT
        assert ticks == pytest.approx(round(ticks), abs=1e-6)
        core.tick(due + late * period)
        assert core.next_tick > due + late * period


def test_free_clock_membership_refresh_goes_out_with_theta() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.on_hello(hello("a"), b"A", 0.0)
    period = 1.0 / NET.rate
    now, sent = 0.0, []
    for i in range(5000):
        now = (i + 1) / 1000
        if i % 100 == 0:
            core.on_heartbeat(beat("a"), None, now)  # alive: no changes to say
        core.tick(now)
        if any(isinstance(m, Membership) for m in core.drain().publish):
            sent.append(now)
    periodic = sent[2:]  # the first ones follow the hello at once
    assert len(periodic) >= 3
    for t in periodic:
        assert (t / period) % 1.0 == pytest.approx(FREE_THETA_AT, abs=0.03)
    assert np.diff(periodic).max() <= NET.membership_interval_s + 0.002


def test_welcome_carries_the_mean_weights_of_active_members() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.on_hello(hello("a"), b"A", 0.0)
    core.on_hello(hello("b"), b"B", 0.0)
    core.on_state(state("a", 0, 0.3)._replace(w1=0.6, w2=0.2, w3=0.2), 0.0)
    core.on_state(state("b", 0, 0.3)._replace(w1=0.4, w2=0.4, w3=0.2), 0.0)
    core.drain()
    core.on_hello(hello("late"), b"L", 1.0)
    welcome = next(m for _, m in core.drain().reply if isinstance(m, Welcome))
    assert welcome.weights == pytest.approx((0.5, 0.3, 0.2))
    assert welcome.step == core.step


def test_a_late_lockstep_joiner_starts_a_margin_ahead_of_the_network() -> None:
    core = coordinator(MODEL, expect=1)
    core.on_hello(hello("a"), b"A", 0.0)
    core.on_heartbeat(beat("a"), None, 0.0)
    core.tick(0.0)
    for step in range(10):
        core.on_state(state("a", step, 0.3), 0.01 * step)
        core.tick(0.01 * step)
    core.on_hello(hello("b"), b"B", 1.0)
    assert core.members["b"].since == 9 + NET.lockstep_join_margin


def test_leave_on_the_pub_forgets_the_member_after_its_rounds() -> None:
    core = coordinator(MODEL, expect=2)
    for node in ("a", "b"):
        core.on_hello(hello(node), node.encode(), 0.0)
        core.on_heartbeat(beat(node), None, 0.0)
    core.tick(0.0)
    core.on_state(state("a", 0, 0.3), 0.1)
    core.on_state(state("b", 0, 0.4), 0.1)
    core.on_leave(Leave(node="b", incarnation=1, seq=0, ts=0.1, reason="x"), 0.1,
                  on_pub=True)  # fmt: skip
    assert "b" in core.members, "round 0 still holds its reading"
    core.tick(0.1)
    assert len(core.var_history) == 1
    assert "b" not in core.members


def test_heartbeat_from_a_stranger_still_gets_an_answer() -> None:
    core = coordinator(MODEL)
    core.on_heartbeat(beat("probe"), b"P", 0.0)
    assert [conn for conn, _ in core.drain().reply] == [b"P"]


def test_the_coordinator_counts_the_most_steps_a_member_published() -> None:
    nodes = [make_node(MODEL, f"n{i}", i, clock=Clock.FREE) for i in range(2)]
    core = coordinator(MODEL, Clock.FREE, expect=2)
    wire = Wire(core, nodes)
    wire.run_until(lambda: all(n.steps_done >= 12 for n in nodes), 10.0)
    assert core.figures()["most_steps"] == max(n.steps_done for n in nodes)
