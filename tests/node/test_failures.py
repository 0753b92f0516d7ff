"""The node's core under faults, in memory: missed decisions, a restarted
coordinator's stream, redialling after silence, hostile peer entries."""

from __future__ import annotations

from entro_net.config import Clock, ModelConfig
from entro_net.node.core import NodeCore
from entro_net.protocol import (
    Hello,
    Member,
    Membership,
    MemberStatus,
    Message,
    State,
    Threshold,
    Welcome,
)
from tests.node.harness import NET, Wire, coordinator, make_node

SILENCE_S = NET.dead_after * NET.heartbeat_interval_s


def welcome(
    incarnation: int, *, epoch: int = 0, isolated: tuple[str, ...] = ()
) -> Welcome:
    return Welcome(
        node="coordinator", incarnation=incarnation, seq=0, ts=0.0, step=0,
        theta_net=1.7, isolated=isolated, epoch=epoch, peers=(), weights=None,
        config_fingerprint=None, index=0,
    )  # fmt: skip


def deafen(node: NodeCore) -> list[bool]:
    """Make ``node`` miss what the coordinator publishes while flag[0] is set."""
    flag = [True]
    handle = node.handle

    def maybe(msg: Message, now: float, *, control: bool = False) -> None:
        if flag[0] and not control and msg.node == "coordinator":
            return
        handle(msg, now, control=control)

    node.handle = maybe  # type: ignore[method-assign]
    return flag


def test_an_isolated_node_that_missed_its_decision_learns_it_from_the_repeat() -> None:
    model = ModelConfig()
    nodes = [make_node(model, f"n{i}", i, clock=Clock.FREE, n=3) for i in range(3)]
    a, b, c = nodes
    wire = Wire(coordinator(model, Clock.FREE, expect=3), nodes)
    wire.run_until(lambda: c.started, 5.0)
    deaf = deafen(c)
    c.source.config = ModelConfig(faults=({"node": 2, "step": 0, "level": 2.0},))  # type: ignore[union-attr]

    wire.run_until(
        lambda: wire.coordinator is not None and "n2" in wire.coordinator.isolated, 2.0
    )
    missed = (c.view.is_isolated("n2"), c.isolated)
    deaf[0] = False
    wire.run(NET.membership_interval_s + 0.2)
    last = [m for s, m in wire.log if s == "n2" and isinstance(m, State)][-1]

    assert missed == (False, False), "c was cut off from the decision"
    assert c.view.is_isolated("n2") and c.isolated
    assert last.isolated, "its own states now say so"
    assert a.view.is_isolated("n2") and b.view.is_isolated("n2")


def test_a_welcome_with_a_newer_epoch_from_the_same_coordinator_catches_up() -> None:
    node = make_node(ModelConfig(), "a", 0, clock=Clock.FREE)
    node.handle(welcome(7, epoch=2, isolated=("x",)), 0.0, control=True)
    node.handle(welcome(7, epoch=4, isolated=("y",)), 0.1, control=True)
    stale = welcome(7, epoch=3, isolated=("x",))
    node.handle(stale, 0.2, control=True)

    assert node.view.isolated == {"y"}
    assert node.view.epoch == 4


def test_the_stream_of_a_restarted_coordinator_is_ignored_until_it_welcomes() -> None:
    node = make_node(ModelConfig(), "a", 0, clock=Clock.FREE)
    node.handle(welcome(7), 0.0, control=True)
    node.drain()
    newer = Threshold(node="coordinator", incarnation=99, seq=0, ts=0.0, step=5,
                      theta_net=2.4, var=0.1, v_net=0.1, n_taking_part=3)  # fmt: skip

    node.handle(newer, 0.1)
    node.tick(0.1)
    sent = node.drain().control

    assert node.theta_net == 1.7
    assert not node.welcomed
    assert any(isinstance(m, Hello) for m in sent)


def test_a_node_dials_the_coordinator_afresh_after_a_silence_and_then_and_again() -> (
    None
):
    node = make_node(ModelConfig(), "a", 0, clock=Clock.FREE)
    node.handle(welcome(7), 0.0, control=True)
    redials = []
    now = 0.0
    while now < SILENCE_S + 2 * NET.rejoin_backoff_max_s + 0.5:
        node.tick(now)
        if node.drain().redial:
            redials.append(now)
        now += 0.05

    assert len(redials) == 3
    assert SILENCE_S < redials[0] < SILENCE_S + 0.1
    assert redials[1] - redials[0] > NET.rejoin_backoff_max_s


def test_a_peer_listed_with_a_huge_index_costs_no_memory() -> None:
    model = ModelConfig()
    node = make_node(model, "a", 0, clock=Clock.FREE)
    node.handle(welcome(7), 0.0, control=True)
    member = Member(node="evil", endpoint="tcp://127.0.0.1:20999", incarnation=1,
                    status=MemberStatus.ALIVE, index=2**62, since=0)  # fmt: skip
    me = Member(node="a", endpoint="tcp://127.0.0.1:20000", incarnation=1,
                status=MemberStatus.ALIVE, index=0, since=0)  # fmt: skip
    listing = Membership(node="coordinator", incarnation=7, seq=1, ts=0.0,
                         members=(me, member))  # fmt: skip
    node.handle(listing, 0.1)
    node.tick(0.1)
    evil = State("evil", 1, 0, 0.1, 0, 0.3, 0.3, 0.0, 0.5, 0.3, 0.2, 1.4, False, 0.0)
    node.handle(evil, 0.15)
    for step in range(5):
        node.tick(0.2 + step * 0.05)

    assert node.peers["evil"].index is None
    assert node.steps_done >= 3
