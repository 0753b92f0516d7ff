"""The node's socket loop with the hub: batch frames held on receipt, then
decoded, checked, counted and handed to the core.

A real ZeroMQ context and sockets, dialling a loopback port where nothing
listens; the frames go straight into the loop's hold (no traffic needed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import msgpack
import pytest
import zmq

from entro_net.config import Clock, ModelConfig, NetworkConfig, Topology
from entro_net.node.process import NodeProcess
from entro_net.protocol import State
from entro_net.protocol.batch import BATCH_PREFIX, encode_batch, state_row
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


def batch_from_b(proc: NodeProcess, step: int, ts: float) -> bytes:
    peer = proc.core.peers["b"]
    assert peer.latest is not None
    state = peer.latest._replace(step=step, seq=peer.latest.seq + 1, ts=ts)
    own = state._replace(node="a", incarnation=1)
    return encode_batch("coord", 7, 1, ts, [state_row(1, state), state_row(0, own)])


def test_a_held_batch_is_applied_with_its_time_of_receipt(proc: NodeProcess) -> None:
    frame = batch_from_b(proc, step=999, ts=100.0)
    proc.unapplied.append((frame, 100.004))
    proc._apply_batches()
    peer = proc.core.peers["b"]
    assert isinstance(peer.latest, State) and peer.latest.step == 999
    assert peer.arrived == 100.004
    assert proc.hub_batches == 1 and proc.unapplied == []
    # Only the peer's row counts as a delay (not the node's own), 4 ms.
    assert proc.delays.count == 1
    assert proc.delays.figures()["max_ms"] == pytest.approx(4.0, abs=0.01)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x00garbage",
        BATCH_PREFIX + b"\xc1",
        BATCH_PREFIX + msgpack.packb([1, "coord", 7, 1, 1.0, b"\x00" * 5, []]),
        BATCH_PREFIX + msgpack.packb([1, "coord", 7, 1, 1.0, b"", [[1]]]),
        BATCH_PREFIX + b"\xff" * (NET.max_message_bytes + 1),
    ],
    ids=["empty", "not-a-batch", "bad-msgpack", "partial-row", "bad-leave", "oversize"],
)
def test_a_bad_batch_is_dropped_and_counted_and_the_rest_applied(
    proc: NodeProcess, frame: bytes
) -> None:
    good = batch_from_b(proc, step=500, ts=50.0)
    proc.unapplied.extend([(frame, 50.001), (good, 50.002)])
    proc._apply_batches()
    assert proc.hub_dropped == 1 and proc.hub_batches == 1
    latest = proc.core.peers["b"].latest
    assert latest is not None and latest.step == 500
    assert proc.summary()["hub"] == {"batches": 1, "dropped": 1, "stale_rows": 0}


def test_a_non_finite_row_drops_its_whole_batch(proc: NodeProcess) -> None:
    frame = batch_from_b(proc, step=7, ts=float("nan"))
    before = proc.core.peers["b"].latest
    proc.unapplied.append((frame, 1.0))
    proc._apply_batches()
    assert proc.hub_dropped == 1 and proc.core.peers["b"].latest is before


def test_a_replayed_batch_changes_nothing_and_is_counted(proc: NodeProcess) -> None:
    first = batch_from_b(proc, step=600, ts=60.0)
    proc.unapplied.append((first, 60.001))
    proc._apply_batches()
    taken = proc.core.peers["b"].latest
    loss_before = proc.loss.figures()
    proc.unapplied.extend([(first, 60.2), (first, 60.3)])
    proc._apply_batches()
    assert proc.core.peers["b"].latest is taken
    assert proc.hub_stale == 2
    assert proc.loss.figures()["received"] == loss_before["received"]
    assert proc.summary()["hub"]["stale_rows"] == 2


def test_a_hub_link_cut_by_an_oversize_frame_is_dialled_again() -> None:
    # libzmq drops a connection for good after a frame over MAXMSGSIZE; the
    # node notices the silence of the stream and dials it again.
    a = make_node(MODEL, "a", 0, clock=Clock.FREE, net=NET)
    b = make_node(MODEL, "b", 1, clock=Clock.FREE, net=NET)
    wire = Wire(coordinator(MODEL, Clock.FREE, expect=2, net=NET), [a, b])
    wire.run_until(lambda: a.steps_done >= 3, 5.0)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    hub = ctx.socket(zmq.PUB)
    hub_port = hub.bind_to_random_port("tcp://127.0.0.1", 20002, 32000)
    pub, _ = NodeProcess.bind_pub(ctx, NET, "127.0.0.1")
    proc = NodeProcess(
        a, NET, coordinator=f"tcp://127.0.0.1:{hub_port - 2}", pub=pub, ctx=ctx
    )
    assert proc.hub_sub is not None
    try:

        def hears(frame: bytes, seconds: float) -> bool:
            assert proc.hub_sub is not None
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                hub.send(frame)
                if proc.hub_sub.poll(50):
                    while proc.hub_sub.poll(0):
                        proc.hub_sub.recv()
                    return True
            return False

        assert hears(b"hello", 5.0)
        hub.send(b"x" * (NET.max_message_bytes * 4 + 1))
        time.sleep(0.2)
        assert not hears(b"after", 1.0)  # the link is gone for good
        silence = NET.dead_after * NET.heartbeat_interval_s
        later = time.monotonic() + silence + 1.0
        proc.core.coordinator_seen = later  # its control link answers
        proc._watch_streams(later, {})
        assert hears(b"again", 5.0)
    finally:
        hub.close(0)
        proc.close()


@pytest.mark.parametrize(("rate_hz", "redialled"), [(20.0, True), (0.2, False)])
def test_a_slow_clocks_quiet_hub_is_not_taken_for_a_lost_link(
    rate_hz: float, redialled: bool
) -> None:
    # At 0.2 Hz a batch comes every 5 s: longer than dead_after heartbeats.
    a = make_node(MODEL, "a", 0, clock=Clock.FREE, net=NET, rate_hz=rate_hz)
    b = make_node(MODEL, "b", 1, clock=Clock.FREE, net=NET, rate_hz=rate_hz)
    wire = Wire(coordinator(MODEL, Clock.FREE, expect=2, net=NET), [a, b])
    wire.run_until(lambda: a.started, 5.0)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub, _ = NodeProcess.bind_pub(ctx, NET, "127.0.0.1")
    proc = NodeProcess(a, NET, coordinator="tcp://127.0.0.1:1", pub=pub, ctx=ctx)
    try:
        later = proc.heard["hub"] + 6.0  # past 4 s, within three 5 s periods
        proc.core.coordinator_seen = later
        proc._watch_streams(later, {})
        assert (proc.heard["hub"] == later) is redialled
    finally:
        proc.close()


def test_streams_are_not_redialled_while_the_coordinator_itself_is_silent(
    proc: NodeProcess,
) -> None:
    # A stalled coordinator is the core's business (coordinator_lost), not a
    # broken stream: nothing is dialled, the silence is forgotten.
    start = proc.heard["events"]
    proc.core.coordinator_seen = start
    proc._watch_streams(start + 6.0, {})
    assert proc.heard == {"events": start + 6.0, "hub": start + 6.0}


def test_a_row_of_a_peers_older_life_is_a_replay(proc: NodeProcess) -> None:
    peer = proc.core.peers["b"]
    assert peer.latest is not None
    old = peer.latest._replace(incarnation=peer.incarnation - 1, seq=10**6, ts=1.0)
    frame = encode_batch("coord", 7, 1, 1.0, [state_row(1, old)])
    before = proc.loss.figures()
    proc.unapplied.append((frame, 1.001))
    proc._apply_batches()
    assert proc.hub_stale == 1 and proc.core.peers["b"].latest is peer.latest
    assert proc.loss.figures() == before and proc.delays.count == 0


# Found by a tester: a replay's rows were skipped but their delays counted.
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
