"""Regression test: a replayed hub row is skipped as stale and its delay is
not counted (it was, found by a tester).

``_apply_batches`` adds every row's delay (receipt minus its stamp) to the
latency figures before ``_take_batch`` skips the rows not newer than the
node's latest of that peer. A replay of old batches (or a coordinator's
backlog after it stalled) then puts delays of seconds into ``latency`` and
``latency_steady`` for states the node never took.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import zmq

from entro_net.config import Clock, ModelConfig, NetworkConfig, Topology
from entro_net.node.process import NodeProcess
from entro_net.protocol.batch import encode_batch, state_row
from tests.node.harness import Wire, coordinator, make_node

MODEL = ModelConfig()
NET = NetworkConfig(topology=Topology.HUB)


@pytest.fixture
def proc() -> Iterator[NodeProcess]:
    """Node a (index 0) of a started free network of two, in a real loop."""
    a = make_node(MODEL, "a", 0, clock=Clock.FREE, net=NET)
    b = make_node(MODEL, "b", 1, clock=Clock.FREE, net=NET)
    wire = Wire(coordinator(MODEL, Clock.FREE, expect=2, net=NET), [a, b])
    wire.run_until(lambda: a.steps_done >= 3, 5.0)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub, _ = NodeProcess.bind_pub(ctx, NET, "127.0.0.1")
    process = NodeProcess(a, NET, coordinator="tcp://127.0.0.1:1", pub=pub, ctx=ctx)
    try:
        yield process
    finally:
        process.close()


def test_a_replayed_batch_adds_no_delay(proc: NodeProcess) -> None:
    peer = proc.core.peers["b"]
    assert peer.latest is not None
    state = peer.latest._replace(step=700, seq=peer.latest.seq + 1, ts=70.0)
    frame = encode_batch("coord", 7, 1, 70.0, [state_row(1, state)])
    proc.unapplied.append((frame, 70.001))
    proc._apply_batches()
    count = proc.delays.count
    proc.unapplied.append((frame, 80.0))  # the same batch again, 10 s later
    proc._apply_batches()
    assert proc.hub_stale == 1
    assert proc.delays.count == count
    assert proc.delays.figures()["max_ms"] < 1000.0
