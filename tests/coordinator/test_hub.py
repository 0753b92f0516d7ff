"""The hub sends a batch once every stepping member spoke, or after a wait."""

from __future__ import annotations

from entro_net.coordinator.hub import StateHub
from entro_net.protocol import State
from entro_net.protocol.batch import decode_batch


def a_state(node: str, seq: int) -> State:
    return State(
        node=node, incarnation=1, seq=seq, ts=1.0, step=seq, psi_raw=0.3, psi=0.3,
        error=0.0, w1=0.5, w2=0.3, w3=0.2, theta_net=1.4, isolated=False, delta=0.0,
    )  # fmt: skip


def test_a_batch_is_due_once_every_stepping_member_delivered() -> None:
    hub = StateHub("coordinator", 1, wait_s=0.005, max_bytes=65536)
    hub.add(0, a_state("a", 0), now=10.0)

    assert not hub.is_due(10.001, stepping=2)
    hub.add(1, a_state("b", 0), now=10.001)
    assert hub.is_due(10.001, stepping=2)


def test_a_batch_goes_out_after_the_wait_even_when_a_member_is_silent() -> None:
    hub = StateHub("coordinator", 1, wait_s=0.005, max_bytes=65536)
    hub.add(0, a_state("a", 0), now=10.0)

    assert hub.deadline() == 10.005
    assert not hub.is_due(10.004, stepping=3)
    assert hub.is_due(10.005, stepping=3)


def test_taking_a_batch_empties_the_hub_and_numbers_the_frames() -> None:
    hub = StateHub("coordinator", 1, wait_s=0.005, max_bytes=4096)
    for i in range(80):
        hub.add(i, a_state(f"n{i}", 0), now=1.0)
    hub.add_leave(3, 1, now=1.0)

    frames = hub.take(now=1.002)

    batches = [decode_batch(f) for f in frames]
    assert len(frames) > 1
    assert [b.seq for b in batches] == list(range(len(frames)))
    assert sum(len(b.records) for b in batches) == 80
    assert batches[-1].leaves == [(3, 1)]
    assert all(not b.leaves for b in batches[:-1])
    assert hub.deadline() is None and not hub.is_due(5.0, stepping=1)
