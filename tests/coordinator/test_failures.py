"""The coordinator's core under faults, in memory: suspect before dead, repeated
decisions, a snapshot that carries it across a restart, hostile indices."""

from __future__ import annotations

import json

import pytest

from entro_net.config import MAX_NODE_INDEX, Clock, ModelConfig
from entro_net.coordinator.core import CoordinatorCore
from entro_net.protocol import Isolate, MemberStatus, Readmit, Welcome
from tests.coordinator.test_core import beat, hello, state
from tests.node.harness import NET, coordinator

MODEL = ModelConfig()
BEAT_S = NET.heartbeat_interval_s


def isolate_a(core: CoordinatorCore) -> None:
    core.on_hello(hello("a"), b"A", 0.0)
    core.on_hello(hello("b"), b"B", 0.0)
    for step in range(3):
        core.on_state(state("a", step, 1.5), 0.01 * step)
        core.on_state(state("b", step, 0.3), 0.01 * step)
    assert core.isolated == {"a"}


def test_a_paused_member_is_only_suspect_and_comes_back_without_being_dead() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.on_hello(hello("a"), b"A", 0.0)
    pause_s = (NET.suspect_after + NET.dead_after) / 2 * BEAT_S

    core.tick(pause_s)
    suspect = core.members["a"].status
    counted = [m.node for m in core.live()]
    core.on_heartbeat(beat("a"), b"A", pause_s + 0.01)
    core.tick(pause_s + 0.02)
    events = [name for _, name, _ in core.drain().events]

    assert suspect is MemberStatus.SUSPECT
    assert counted == ["a"], "a suspect member still counts"
    assert core.members["a"].status is MemberStatus.ALIVE
    assert "member_dead" not in events
    assert events.count("heartbeat_missed") == 1 and "member_alive" in events


def test_membership_is_followed_by_the_latest_decision_about_each_member() -> None:
    core = coordinator(MODEL, Clock.FREE)
    isolate_a(core)
    core.drain()

    core.tick(core.membership_due + 0.01)
    repeats = [m for m in core.drain().publish if isinstance(m, Isolate | Readmit)]

    assert [(type(m), m.target, m.epoch) for m in repeats] == [(Isolate, "a", 1)]
    assert core.isolations[-1].epoch == 1, "a repeat is not a new decision"


def test_a_dead_isolated_member_stays_isolated() -> None:
    core = coordinator(MODEL, Clock.FREE)
    isolate_a(core)

    core.on_heartbeat(beat("b"), b"B", NET.dead_after * BEAT_S)
    core.tick(NET.dead_after * BEAT_S + 0.1)

    assert core.members["a"].status is MemberStatus.DEAD
    assert core.isolated == {"a"}


def test_replacing_an_isolated_member_readmits_it_with_a_new_epoch() -> None:
    core = coordinator(MODEL, Clock.FREE)
    isolate_a(core)
    core.drain()

    core.on_hello(hello("a", incarnation=2), b"A2", 1.0)
    readmits = [m for m in core.drain().publish if isinstance(m, Readmit)]

    assert {(m.target, m.epoch) for m in readmits} == {("a", 2)}
    assert core.isolations[-1].kind == "readmit"
    assert core.isolated == set()


def test_a_hello_asking_for_a_huge_index_gets_the_smallest_free_one() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.on_hello(hello("a", index=2**62), b"A", 0.0)
    events = [name for _, name, _ in core.drain().events]

    assert core.members["a"].index == 0
    assert "index_too_high" in events
    assert MAX_NODE_INDEX < 2**62


def test_snapshot_restores_membership_theta_and_isolation_epochs() -> None:
    first = coordinator(MODEL, Clock.FREE, incarnation=1)
    isolate_a(first)
    first.on_hello(hello("c"), b"C", 0.0)
    for tick in range(1, 30):
        first.on_state(state("b", 2 + tick, 0.3, psi=0.3), tick / 20)
        first.on_state(state("c", 2 + tick, 0.3, psi=0.6), tick / 20)
        first.tick(tick / 20)
    saved = json.loads(json.dumps(first.snapshot()))

    second = coordinator(MODEL, Clock.FREE, incarnation=2)
    assert second.restore(saved, 100.0)
    out = second.drain()
    second.on_hello(hello("b"), b"B", 100.1)
    welcome = next(m for _, m in second.drain().reply if isinstance(m, Welcome))

    assert second.theta_net == first.theta_net != MODEL.theta_base
    assert second.epoch == first.epoch == 1
    assert second.isolated == {"a"}
    assert sorted(second.members) == ["a", "b", "c"]
    assert second.members["a"].status is MemberStatus.SUSPECT
    assert sorted(out.connect) == sorted(m.endpoint for m in first.members.values())
    assert (welcome.epoch, welcome.isolated) == (1, ("a",))
    assert welcome.theta_net == first.theta_net
    # The next decision continues the epochs, and the rule can readmit "a".
    for step in range(10, 10 + MODEL.readmit_after):
        second.on_state(state("a", step, 0.1), 100.2)
    readmits = [m for m in second.drain().publish if isinstance(m, Readmit)]
    assert {(m.target, m.epoch) for m in readmits} == {("a", 2)}


def test_restored_members_that_never_speak_again_die() -> None:
    first = coordinator(MODEL, Clock.FREE)
    first.on_hello(hello("a"), b"A", 0.0)
    second = coordinator(MODEL, Clock.FREE, incarnation=9)
    second.restore(first.snapshot(), 50.0)

    second.tick(50.0 + NET.dead_after * BEAT_S + 0.1)

    assert second.members["a"].status is MemberStatus.DEAD


@pytest.mark.parametrize(
    "spoil",
    [
        lambda s: s.update(fingerprint="other"),
        lambda s: s.update(clock="lockstep"),
        lambda s: s.update(theta_net="NaN"),
        lambda s: s["members"][0].update(endpoint="not an endpoint"),
        lambda s: s.pop("epoch"),
        lambda s: s["threshold"].update(history=[1.0]),
    ],
)
def test_a_snapshot_of_another_network_or_a_broken_one_changes_nothing(
    spoil: object,
) -> None:
    first = coordinator(MODEL, Clock.FREE)
    isolate_a(first)
    saved = first.snapshot()
    spoil(saved)  # type: ignore[operator]
    second = coordinator(MODEL, Clock.FREE, incarnation=9)

    assert not second.restore(saved, 1.0)
    assert second.members == {} and second.epoch == 0 and second.isolated == set()
