"""SenderBinding and is_from: one connection speaks for one node."""

from __future__ import annotations

from entro_net.protocol import Hello, SenderBinding, is_from
from tests.protocol.samples import a_state, header


def hello(incarnation: int) -> Hello:
    return Hello(**header(incarnation=incarnation), endpoint="tcp://127.0.0.1:7000")


def test_is_from_compares_the_claimed_sender() -> None:
    assert is_from(a_state(node="node-a"), "node-a")
    assert not is_from(a_state(node="node-b"), "node-a")


def test_first_message_binds_the_connection() -> None:
    binding = SenderBinding()

    ok = binding.check("c1", a_state())

    assert ok
    assert binding.node_of("c1") == "node-a"


def test_bound_connection_cannot_claim_another_node() -> None:
    binding = SenderBinding()
    binding.check("c1", a_state(node="node-a"))

    assert not binding.check("c1", a_state(node="node-b"))


def test_another_connection_cannot_claim_a_bound_node_without_a_hello() -> None:
    binding = SenderBinding()
    binding.check("c1", a_state(incarnation=7))

    assert not binding.check("c2", a_state(incarnation=7))
    assert not binding.check("c2", hello(incarnation=6))


def test_hello_of_equal_or_newer_incarnation_moves_the_binding() -> None:
    binding = SenderBinding()
    binding.check("c1", a_state(incarnation=7))

    moved = binding.check("c2", hello(incarnation=7))

    assert moved
    assert binding.node_of("c2") == "node-a"
    assert binding.node_of("c1") is None


def test_forget_frees_the_node_for_another_connection() -> None:
    binding = SenderBinding()
    binding.check("c1", a_state())

    binding.forget("c1")

    assert binding.check("c2", a_state())


def test_binding_keeps_a_bounded_number_of_connections() -> None:
    binding = SenderBinding(max_connections=2)
    for i in range(5):
        binding.check(f"c{i}", a_state(node=f"node-{i}"))

    assert binding.node_of("c0") is None
    assert binding.node_of("c4") == "node-4"
    assert binding.check("c9", a_state(node="node-0"))


def test_a_heartbeat_of_a_newer_incarnation_moves_the_binding() -> None:
    # A restarted node whose first hello was lost before its link came up.
    from entro_net.protocol import Heartbeat, NodeState
    from entro_net.protocol.identity import SenderBinding

    binding = SenderBinding()
    old = Heartbeat(node="a", incarnation=1, seq=0, ts=0.0, step=0,
                    state=NodeState.ACTIVE)  # fmt: skip
    newer = old.model_copy(update={"incarnation": 2})

    assert binding.check(b"old", old)
    assert not binding.check(b"other", old), "same incarnation elsewhere"
    assert binding.check(b"new", newer)
    assert binding.node_of(b"new") == "a"
