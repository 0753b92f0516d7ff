"""The cores in memory: keys bind ids, members carry keys, peers never decide."""

from __future__ import annotations

import zmq

from entro_net.config import Clock, ModelConfig
from entro_net.node.core import NodeCore
from entro_net.protocol import (
    Hello,
    Isolate,
    Member,
    Membership,
    MemberStatus,
    Threshold,
    Welcome,
)
from tests.node.harness import coordinator, make_node

MODEL = ModelConfig()
KEY_A = zmq.curve_keypair()[0].decode()
KEY_B = zmq.curve_keypair()[0].decode()


def hello(node: str, incarnation: int = 1) -> Hello:
    return Hello(
        node=node,
        incarnation=incarnation,
        seq=0,
        ts=0.0,
        endpoint=f"tcp://127.0.0.1:{21000 + len(node)}",
    )


def test_welcome_and_membership_carry_the_key_each_member_joined_with() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.on_hello(hello("a"), b"A", 0.0, key=KEY_A)
    core.drain()

    core.on_hello(hello("b"), b"B", 0.0, key=KEY_B)
    out = core.drain()

    welcome = next(m for conn, m in out.reply if isinstance(m, Welcome))
    assert [(p.node, p.key) for p in welcome.peers] == [("a", KEY_A)]
    membership = next(m for m in out.publish if isinstance(m, Membership))
    assert {(m.node, m.key) for m in membership.members} == {
        ("a", KEY_A),
        ("b", KEY_B),
    }


def test_another_key_cannot_take_over_a_live_members_id() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.on_hello(hello("a"), b"A", 0.0, key=KEY_A)
    core.drain()

    core.on_hello(hello("a", incarnation=2), b"X", 0.1, key=KEY_B)
    out = core.drain()

    assert core.members["a"].key == KEY_A
    assert core.members["a"].incarnation == 1
    assert not out.reply
    assert [name for _, name, _ in out.events] == ["hello_key_mismatch"]
    assert core.refused_hellos == 1  # the server then unbinds the claimant


def test_the_same_key_may_restart_its_node_with_a_newer_incarnation() -> None:
    core = coordinator(MODEL, Clock.FREE)
    core.on_hello(hello("a"), b"A", 0.0, key=KEY_A)
    core.drain()

    core.on_hello(hello("a", incarnation=2), b"A2", 0.1, key=KEY_A)

    assert core.members["a"].incarnation == 2


def test_no_node_may_join_under_the_coordinators_own_id() -> None:
    core = coordinator(MODEL, Clock.FREE)

    core.on_hello(hello(core.node_id), b"X", 0.0, key=KEY_A)
    out = core.drain()

    assert core.node_id not in core.members
    assert [name for _, name, _ in out.events] == ["hello_reserved_id"]
    assert core.refused_hellos == 1


def _welcomed_node() -> tuple[NodeCore, str, int]:
    node = make_node(MODEL, "n0", 0, clock=Clock.FREE)
    welcome = Welcome(
        node="coordinator",
        incarnation=7,
        seq=0,
        ts=0.0,
        step=0,
        theta_net=1.4,
        isolated=(),
        epoch=0,
        peers=(),
    )
    node.handle(welcome, 0.0, control=True)
    node.drain()
    return node, "coordinator", 7


def test_a_decision_that_arrives_on_a_peers_pub_is_ignored() -> None:
    node, coordinator_id, incarnation = _welcomed_node()
    header = {"node": coordinator_id, "incarnation": incarnation, "ts": 0.0}
    isolate = Isolate(**header, seq=0, target="n0", step=0, epoch=99)
    threshold = Threshold(
        **header, seq=0, step=0, theta_net=2.5, var=0.0, v_net=0.0, n_taking_part=1
    )

    node.handle(isolate, 0.1, from_peer=True)
    node.handle(threshold, 0.1, from_peer=True)
    out = node.drain()

    assert not node.view.is_isolated("n0")
    assert node.theta_net == 1.4
    assert node.ignored_decisions == 2
    assert [name for _, name, _ in out.events] == ["decision_ignored"]


def test_the_same_decision_on_the_coordinators_stream_is_applied() -> None:
    node, coordinator_id, incarnation = _welcomed_node()
    isolate = Isolate(
        node=coordinator_id,
        incarnation=incarnation,
        seq=0,
        ts=0.0,
        target="n0",
        step=0,
        epoch=1,
    )

    node.handle(isolate, 0.1)

    assert node.view.is_isolated("n0")


def test_a_node_learns_each_peers_key_from_the_membership() -> None:
    node, coordinator_id, incarnation = _welcomed_node()
    member = Member(
        node="n1",
        endpoint="tcp://127.0.0.1:21001",
        incarnation=1,
        status=MemberStatus.ALIVE,
        index=1,
        since=0,
        key=KEY_B,
    )
    membership = Membership(
        node=coordinator_id, incarnation=incarnation, seq=0, ts=0.0, members=(member,)
    )

    node.handle(membership, 0.1)

    assert node.peer_key("tcp://127.0.0.1:21001") == KEY_B
    assert node.is_vouched(KEY_B)
    assert not node.is_vouched(KEY_A)
