"""A lockstep node paused (SIGSTOP) past the round wait: nobody stays stuck.

In memory: a paused node neither ticks nor reads; what is published to it
meanwhile waits in its queue (as in ZeroMQ's) and arrives at once when it
resumes, all of it or (queues overflowed) none of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from entro_net.config import ModelConfig, NetworkConfig
from entro_net.node.core import NodeCore
from entro_net.protocol import Message
from tests.node.harness import Wire, coordinator, make_node

NET = NetworkConfig(lockstep_wait_s=0.2)
STEPS = 120
MODEL = ModelConfig()


@dataclass
class PausingWire(Wire):
    """A wire on which one node can be paused; its inbox queues meanwhile."""

    paused: set[str] = field(default_factory=set)
    inbox: list[tuple[Message, dict[str, bool]]] = field(default_factory=list)

    def tick(self) -> None:
        if self.coordinator is not None:
            self.coordinator.tick(self.now)
        self.pump()
        for node in self.nodes:
            if node.node_id not in self.paused:
                node.tick(self.now)
                self.pump()

    def resume(self, node: NodeCore, *, keep: float) -> None:
        """Resume ``node`` with the first ``keep`` share of its backlog."""
        self.paused.discard(node.node_id)
        backlog, self.inbox = self.inbox, []
        for msg, flags in backlog[: int(len(backlog) * keep)]:
            node.handle(msg, self.now, **flags)
        self.pump()


def three_nodes() -> tuple[PausingWire, list[NodeCore]]:
    nodes = [
        make_node(MODEL, name, i, steps=STEPS, n=3, net=NET)
        for i, name in enumerate("abc")
    ]
    wire = PausingWire(coordinator(MODEL, expect=3, net=NET), nodes)
    original = nodes[2].handle

    def handle(msg: Message, now: float, **flags: bool) -> None:
        if "c" in wire.paused:
            wire.inbox.append((msg, flags))
        else:
            original(msg, now, **flags)

    setattr(nodes[2], "handle", handle)  # noqa: B010 (a test double)
    return wire, nodes


def pause_and_resume(keep: float) -> tuple[PausingWire, list[NodeCore]]:
    wire, nodes = three_nodes()
    a, _, c = nodes
    wire.run_until(lambda: a.step >= 20, 20.0)
    wire.paused.add("c")
    paused_at = c.step
    wire.run(3 * NET.lockstep_wait_s)
    assert a.step > paused_at + 10, "the others must go on without the paused node"
    wire.resume(c, keep=keep)
    wire.run_until(lambda: all(n.is_done for n in nodes), 30.0)
    return wire, nodes


@pytest.mark.parametrize("keep", [1.0, 0.5])
def test_a_paused_lockstep_node_catches_up_from_its_backlog_and_all_finish(
    keep: float,
) -> None:
    wire, nodes = pause_and_resume(keep)

    assert [n.step for n in nodes] == [STEPS] * 3
    assert [n.leave_reason for n in nodes] == ["steps_done"] * 3
    assert nodes[0].steps_done == nodes[1].steps_done == STEPS
    assert wire.coordinator is not None
    assert wire.coordinator.n_history[-5:] == [3] * 5


def test_a_paused_node_without_its_backlog_resyncs_to_the_networks_round() -> None:
    wire, nodes = pause_and_resume(0.0)
    c = nodes[2]

    assert c.skipped > 0
    assert c.steps_done + c.skipped == STEPS
    assert [n.step for n in nodes] == [STEPS] * 3
    assert nodes[0].steps_done == nodes[1].steps_done == STEPS
    assert wire.coordinator is not None
    # The network counts it again: the last rounds had all three readings.
    assert wire.coordinator.n_history[-5:] == [3] * 5
