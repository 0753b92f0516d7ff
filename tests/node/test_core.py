"""The node's core in memory: joining, both clocks, losing the coordinator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from entro_net.config import (
    FREE_PREPARE_AT,
    WEIGHTS_START,
    Clock,
    Fault,
    Law,
    ModelConfig,
    NetworkConfig,
    Source,
)
from entro_net.node.core import NodeCore, Phase
from entro_net.protocol import Hello, Leave, State
from entro_net.sim.simulator import RunSpec, Simulator
from tests.node.harness import NET, Wire, coordinator, make_node


def test_node_says_hello_again_with_backoff_until_a_coordinator_answers() -> None:
    node = make_node(ModelConfig(), "a", 0)
    hellos = []
    now = 0.0
    while now < 3.0:
        node.tick(now)
        hellos += [now for m in node.drain().control if isinstance(m, Hello)]
        now += 0.01
    gaps = np.diff(hellos)
    assert len(hellos) >= 3
    assert gaps[0] == pytest.approx(NET.hello_retry_s, abs=0.02)
    assert np.all(np.diff(gaps) > 0)
    assert not node.started


def test_node_waits_for_its_since_before_it_steps() -> None:
    model = ModelConfig()
    core = coordinator(model, expect=2)
    first = make_node(model, "a", 0)
    wire = Wire(core, [first])
    wire.run(1.0)
    assert first.welcomed
    assert not first.started
    second = make_node(model, "b", 1, now=wire.now)
    wire.nodes.append(second)
    wire.run_until(lambda: first.started and second.started, 2.0)
    assert first.since == 0 and second.since == 0


@pytest.mark.parametrize("law", [Law.LINEAR, Law.RESILIENT, Law.SEED])
def test_two_lockstep_cores_compute_the_simulators_run(law: Law) -> None:
    model = ModelConfig(law=law)
    steps = 40
    nodes = [make_node(model, f"n{i}", i, steps=steps, n=3, seed=5) for i in range(3)]
    wire = Wire(coordinator(model, expect=3), nodes)
    wire.run_until(lambda: all(n.is_done for n in nodes), 20.0)
    wire.run(0.05)

    sim = Simulator(model, [RunSpec(3)], steps, 5, record=True).run()
    assert sim.psi is not None
    for i, node in enumerate(nodes):
        psi = np.array([row[2] for row in node.history])
        assert np.array_equal(psi, sim.psi[0, :, i])
    assert wire.coordinator is not None
    assert wire.coordinator.var_history == pytest.approx(list(sim.var[0]), abs=1e-12)


def test_lockstep_round_waits_for_a_silent_peer_only_up_to_the_bound() -> None:
    model = ModelConfig()
    net = NetworkConfig(lockstep_wait_s=0.3)
    a, b = make_node(model, "a", 0, net=net), make_node(model, "b", 1, net=net)
    wire = Wire(coordinator(model, expect=2, net=net), [a, b])
    wire.run_until(lambda: a.steps_done >= 5, 5.0)
    wire.cut.add("b")
    done = a.steps_done
    wire.run(net.lockstep_wait_s * 0.5)
    assert a.steps_done <= done + 2  # b may be a round ahead: two buffered
    wire.run(net.lockstep_wait_s * 3)
    assert a.steps_done > done + 4
    assert a.peers["b"].silent


def test_a_peers_leave_ends_the_wait_for_it_at_once() -> None:
    model = ModelConfig()
    a = make_node(model, "a", 0)
    b = make_node(model, "b", 1, steps=10)
    wire = Wire(coordinator(model, expect=2), [a, b])
    wire.run_until(lambda: b.is_done, 5.0)
    wire.run(0.05)
    assert a.peers["b"].said_leave
    assert a.steps_done >= 11
    assert any(isinstance(m, Leave) for sender, m in wire.log if sender == "b")


def test_a_node_with_another_model_refuses_the_welcome_and_leaves() -> None:
    ours = ModelConfig()
    odd = make_node(ModelConfig(law=Law.SEED), "odd", 1, clock=Clock.FREE)
    good = make_node(ours, "good", 0, clock=Clock.FREE)
    core = coordinator(ours, Clock.FREE, expect=1)
    wire = Wire(core, [good, odd])
    wire.run_until(lambda: odd.is_done, 5.0)
    wire.run(0.5)
    assert odd.leave_reason == "config_mismatch" and odd.steps_done == 0
    assert "odd" not in {m.node for m in core.live()}
    assert good.steps_done > 0 and not good.is_done


def test_a_node_with_its_own_input_settings_is_welcome() -> None:
    # Faults and sources are a node's own readings, not the network's model.
    ours = ModelConfig()
    own = ModelConfig(source=Source.PHASE_SHIFT, faults=(Fault.parse("1:5:2.0"),))
    good = make_node(ours, "good", 0, clock=Clock.FREE)
    other = make_node(own, "other", 1, clock=Clock.FREE)
    wire = Wire(coordinator(ours, Clock.FREE, expect=2), [good, other])
    wire.run(1.0)
    assert other.steps_done > 0 and not other.is_done


def test_late_joiner_starts_from_the_networks_mean_weights() -> None:
    model = ModelConfig(source=Source.PLANT)
    early = [make_node(model, f"n{i}", i, n=3) for i in range(2)]
    wire = Wire(coordinator(model, expect=2), early)
    wire.run_until(lambda: all(n.steps_done >= 60 for n in early), 30.0)
    assert wire.coordinator is not None
    mean = wire.coordinator.mean_weights()
    assert mean is not None and not np.allclose(mean, WEIGHTS_START)

    late = make_node(model, "n2", 2, n=3, now=wire.now)
    wire.nodes.append(late)
    wire.run_until(lambda: late.steps_done >= 1, 10.0)
    assert late.start_weights is not None
    assert np.allclose(late.start_weights, mean, atol=0.05)
    assert late.since is not None and late.since > 60
    assert late.history[0][0] == late.since


def test_free_node_keeps_stepping_on_its_last_theta_without_the_coordinator() -> None:
    model = ModelConfig()
    nodes = [make_node(model, f"n{i}", i, clock=Clock.FREE) for i in range(2)]
    wire = Wire(coordinator(model, Clock.FREE, expect=2), nodes)
    wire.run_until(lambda: all(n.steps_done >= 10 for n in nodes), 5.0)
    theta = nodes[0].theta_net

    wire.coordinator_down = True
    done = nodes[0].steps_done
    wire.run(NET.dead_after * NET.heartbeat_interval_s + 1.0)
    assert not nodes[0].welcomed
    assert nodes[0].steps_done > done + 20
    assert nodes[0].theta_net == theta


def test_a_free_node_computes_between_ticks_and_sends_at_the_tick() -> None:
    # The step is computed FREE_PREPARE_AT of a period past a tick (off the
    # burst of states) and leaves, stamped, at the next tick of the grid.
    model = ModelConfig()
    a = make_node(model, "a", 0, clock=Clock.FREE, rate_hz=10.0)
    b = make_node(model, "b", 1, clock=Clock.FREE, rate_hz=10.0)
    wire = Wire(coordinator(model, Clock.FREE, expect=2), [a, b])
    dt = 0.005

    def advance_to(t: float) -> None:
        while wire.now < t:
            wire.now += dt
            wire.tick()

    def sent() -> list[State]:
        return [m for s, m in wire.log if s == "a" and isinstance(m, State)]

    wire.run_until(lambda: a.steps_done >= 5, 10.0, dt=dt)
    for msg in sent():  # each left at the first wire tick at or after its grid time
        assert 0.0 <= msg.ts - math.floor(msg.ts * 10.0 + 1e-9) / 10.0 < dt + 1e-9
    tick, prepare = a.next_tick, a.prepare_due
    assert prepare == pytest.approx(tick - (1.0 - FREE_PREPARE_AT) * 0.1)
    advance_to(prepare - 2 * dt)
    assert a.prepared is None
    advance_to(prepare)
    held = a.prepared
    assert held is not None and held.step == a.step
    count = len(sent())
    advance_to(tick - 2 * dt)
    assert len(sent()) == count and a.prepared is held
    advance_to(tick)
    last = sent()[-1]
    assert len(sent()) == count + 1 and a.prepared is None
    assert last.step == held.step and last.psi == held.psi and last.ts == wire.now
    assert a.history[-1][0] == held.step and a.step == held.step + 1


def test_a_free_node_beats_when_it_computes_and_never_later_than_due() -> None:
    from entro_net.protocol import Heartbeat

    model = ModelConfig()
    a = make_node(model, "a", 0, clock=Clock.FREE, rate_hz=10.0)
    b = make_node(model, "b", 1, clock=Clock.FREE, rate_hz=10.0)
    wire = Wire(coordinator(model, Clock.FREE, expect=2), [a, b])
    wire.run_until(lambda: a.started, 5.0, dt=0.005)
    start = wire.now
    wire.run(4.0, dt=0.005)
    beats = [m.ts for s, m in wire.log if s == "a" and isinstance(m, Heartbeat)]
    beats = [t for t in beats if t > start + 0.6]  # after the first beat on the grid
    assert len(beats) >= 6
    for t in beats:  # at the first wire tick at or after the prepare share
        share = (t * 10.0) % 1.0
        assert FREE_PREPARE_AT - 1e-6 <= share < FREE_PREPARE_AT + 0.05 + 1e-6
    gaps = np.diff(beats)
    assert gaps.max() <= NET.heartbeat_interval_s + 0.005 + 1e-9


def test_free_node_uses_only_fresh_peer_readings() -> None:
    model = ModelConfig(law=Law.LINEAR)
    a = make_node(model, "a", 0, clock=Clock.FREE)
    b = make_node(model, "b", 1, clock=Clock.FREE)
    wire = Wire(coordinator(model, Clock.FREE, expect=2), [a, b])
    wire.run_until(lambda: a.steps_done >= 5, 5.0)
    assert a.delta != 0.0
    wire.cut.add("b")
    wire.run(NET.staleness_s + 0.2)
    assert a.delta == 0.0


def test_free_nodes_follow_the_coordinators_isolation_of_a_faulty_peer() -> None:
    model = ModelConfig(faults=())
    a = make_node(model, "a", 0, clock=Clock.FREE)
    b = make_node(model, "b", 1, clock=Clock.FREE)
    c = make_node(model, "c", 2, clock=Clock.FREE, n=3)
    wire = Wire(coordinator(model, Clock.FREE, expect=3), [a, b, c])
    wire.run_until(lambda: c.started, 5.0)
    c.source.config = ModelConfig(faults=({"node": 2, "step": 0, "level": 2.0},))  # type: ignore[union-attr]
    wire.run(1.0)
    assert a.view.is_isolated("c") and b.view.is_isolated("c")
    assert c.isolated and c.phase is Phase.ISOLATED
    last = [m for s, m in wire.log if s == "a" and isinstance(m, State)][-1]
    assert last.psi < 1.0


def test_lockstep_nodes_outlive_the_coordinator_and_a_new_one_takes_over() -> None:
    model = ModelConfig()
    nodes = [make_node(model, f"n{i}", i) for i in range(2)]
    wire = Wire(coordinator(model, expect=2), nodes)
    wire.run_until(lambda: all(n.steps_done >= 20 for n in nodes), 10.0)

    wire.coordinator_down = True
    wire.run(NET.dead_after * NET.heartbeat_interval_s + 0.5)
    assert not any(n.welcomed for n in nodes)
    done = nodes[0].steps_done

    fresh = coordinator(model, incarnation=8)
    wire.coordinator, wire.coordinator_down = fresh, False
    wire.run_until(lambda: all(n.welcomed for n in nodes), 10.0)
    wire.run_until(lambda: len(fresh.var_history) >= 5, 10.0)
    assert nodes[0].steps_done > done
    assert set(fresh.members) == {"n0", "n1"}
    assert fresh.members["n0"].index == 0 and fresh.members["n1"].index == 1


def lockstep_pair_cut_from_b() -> tuple[NodeCore, Wire, int]:
    """Lockstep nodes a and b after a few rounds; b's link to a is cut, so
    a waits in round ``stuck`` for b's reading."""
    model = ModelConfig()
    a, b = make_node(model, "a", 0), make_node(model, "b", 1)
    wire = Wire(coordinator(model, expect=2), [a, b])
    wire.run_until(lambda: a.steps_done >= 5, 5.0)
    wire.cut.add("b")
    wire.run(0.2)
    assert a.peers["b"].max_step <= a.step, "a waits for b's round"
    return a, wire, a.step


def test_lockstep_node_stops_waiting_for_a_round_a_peer_has_already_passed() -> None:
    a, wire, stuck = lockstep_pair_cut_from_b()
    later = a.recent_states[-1]._replace(node="b", step=stuck + 1, seq=10_000)
    a.handle(later, wire.now)
    a.tick(wire.now)
    assert a.step == stuck, "b resends its last two states while it waits for a"
    a.tick(wire.now + NET.lockstep_wait_s + 0.01)
    assert a.step > stuck
    assert not a.peers["b"].silent


def test_lockstep_node_takes_a_lost_round_from_the_peers_resend() -> None:
    # A peer one round ahead waits for us and resends its last two states,
    # the round we missed among them: the round closes with its reading.
    a, wire, stuck = lockstep_pair_cut_from_b()
    missed = a.recent_states[-1]._replace(node="b", seq=10_000, psi_raw=0.4321)
    a.handle(missed._replace(step=stuck + 1, seq=10_001), wire.now)
    a.tick(wire.now)
    assert a.step == stuck
    a.drain()
    a.handle(missed._replace(seq=10_002), wire.now + 0.05)
    a.tick(wire.now + 0.05)
    assert a.step == stuck + 2  # both rounds closed with b's readings
    lost = [e for e in a.drain().events if e[1] == "peer_round_lost"]
    assert lost == [] and a.peers["b"].missed == 0


def test_a_quickly_restarted_coordinator_gets_a_hello_at_its_first_answer() -> None:
    model = ModelConfig()
    nodes = [make_node(model, f"n{i}", i, clock=Clock.FREE) for i in range(2)]
    wire = Wire(coordinator(model, Clock.FREE, expect=2), nodes)
    wire.run_until(lambda: all(n.steps_done >= 5 for n in nodes), 5.0)

    fresh = coordinator(model, Clock.FREE, incarnation=99)
    wire.coordinator = fresh
    # Well before the node would call the old coordinator lost (4 s):
    wire.run_until(lambda: set(fresh.members) == {"n0", "n1"}, 2.0)
    assert all(n.coordinator_incarnation == 99 for n in nodes)
