"""Bad input on every socket of a running network, over real processes.

A client sends garbage to the coordinator's ROUTER; a fake node says hello,
so the coordinator and every node dial its PUB, and then publishes garbage,
truncated msgpack, other protocol versions, NaN and out-of-range numbers,
oversize frames, states claiming a real node's id, and a flood. Each is
dropped and counted by reason (the coordinator's metrics, the nodes' summary
files), warnings stay rate-limited, no process crashes, and the healthy
nodes' membership, Ψ and θ_net are untouched. A subscriber that never reads
holds nobody back.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import zmq

from entro_net.config import MAX_MESSAGE_BYTES, THETA_MAX, THETA_MIN
from entro_net.protocol import (
    Decoder,
    Heartbeat,
    Hello,
    NodeState,
    Threshold,
    encode,
)
from tests.integration.faultlab import (
    ACTIVE_AGAIN_S,
    FaultLab,
    assert_recording_whole,
    wait_until,
)

pytestmark = pytest.mark.integration

HEALTHY = ["node-0", "node-1", "node-2"]
MODEL_FLAGS = ["--source", "scraper"]
FAKE = "fake-node"
FLOOD = 20_000
IMPOSTOR_SEQ = 10**9


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultLab]:
    made = FaultLab(
        tmp_path_factory.mktemp("bad-input"),
        coordinator_flags=[*MODEL_FLAGS, "--metrics-port", "0"],
    )
    try:
        made.start_coordinator()
        for index, name in enumerate(HEALTHY):
            made.start_node(name, index, *MODEL_FLAGS)
        made.wait_active(HEALTHY, 0.0, 60.0)
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def ctx() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.destroy(linger=0)


def coordinator_drops(lab: FaultLab) -> dict[str, int]:
    """The coordinator's drop counters by reason, scraped from its metrics."""
    ready = json.loads((lab.root / "coordinator.ready.json").read_text())
    with urllib.request.urlopen(ready["metrics"], timeout=10) as reply:
        text = reply.read().decode()
    found = re.findall(
        r'^entro_net_messages_dropped(?:_total)?\{reason="(\w+)"\} ([0-9.e+]+)$',
        text,
        re.MULTILINE,
    )
    return {reason: int(float(count)) for reason, count in found}


def state_body(node: str, incarnation: int, seq: int, psi: float) -> list[object]:
    return [1, node, incarnation, seq, time.monotonic(), seq, psi, psi, 0.0,
            0.5, 0.3, 0.2, 1.4, False, 0.0]  # fmt: skip


def garbage_frames(node: str, incarnation: int) -> dict[str, list[bytes]]:
    """Frames of every kind of bad input, by the reason they must be dropped for."""
    hello = encode(
        Hello(
            node=node,
            incarnation=incarnation,
            seq=0,
            ts=0.0,
            endpoint="tcp://127.0.0.1:1",
            index=None,
        )
    )
    nan_state = state_body(node, incarnation, 1, math.nan)
    inf_state = state_body(node, incarnation, 2, math.inf)
    huge_state = state_body(node, incarnation, 3, 1e9)
    old_state = [0, *state_body(node, incarnation, 4, 0.3)[1:]]
    new_state = [2, *state_body(node, incarnation, 5, 0.3)[1:]]
    return {
        # A known prefix, then 0xc1 (never valid msgpack) and noise.
        "garbage": [
            b"SHEL"[i % 4 : i % 4 + 1] + b"\xc1" + bytes(range(i, i + i % 17))
            for i in range(50)
        ],
        "truncated": [hello[: len(hello) // 2], hello[:-1]],
        "version": [b"S" + msgpack.packb(old_state), b"S" + msgpack.packb(new_state)],
        "unknown_type": [b"Z" + hello[1:]],
        "non_finite": [b"S" + msgpack.packb(s) for s in (nan_state, inf_state)],
        "out_of_range": [b"S" + msgpack.packb(huge_state)],
        "oversize": [b"S" + b"\x00" * (MAX_MESSAGE_BYTES + 100)] * 2,
    }


def assert_healthy_untouched(lab: FaultLab, since: float) -> None:
    seen = assert_recording_whole(lab)
    assert seen.isolated_targets() == set(), "nobody was isolated"
    listing = seen.last_membership()
    assert listing is not None
    alive = {m.node for m in listing.members if m.status.value == "alive"}
    assert set(HEALTHY) <= alive
    for name in HEALTHY:
        # The recording keeps every frame received, the impostors' too (their
        # seq starts at IMPOSTOR_SEQ); the nodes' own states are unchanged.
        states = [s for _, s in seen.states(name, since) if s.seq < IMPOSTOR_SEQ]
        assert states, f"{name} went on stepping"
        assert all(-1.0 < s.psi_raw < 1.0 for s in states), "no 5.0 got in"
        assert all(THETA_MIN <= s.theta_net <= THETA_MAX for s in states)
    thresholds = [
        m for ts, m in seen.messages if ts > since and isinstance(m, Threshold)
    ]
    assert thresholds and all(
        THETA_MIN <= m.theta_net <= THETA_MAX and m.var < 0.1 for m in thresholds
    )
    assert lab.coordinator is not None
    missed = [
        e
        for e in lab.coordinator.named("heartbeat_missed")
        if e.get("member") in HEALTHY
    ]
    assert missed == [], "a healthy node's heartbeats stopped arriving"
    for proc in [lab.coordinator, *lab.nodes.values()]:
        assert proc.popen.poll() is None, f"{proc.name} died"


def test_garbage_on_the_coordinators_control_socket_is_dropped_and_counted(
    lab: FaultLab, ctx: zmq.Context[zmq.Socket[bytes]]
) -> None:
    since = time.time()
    before = coordinator_drops(lab)
    incarnation = lab.seen().member_incarnation("node-0")
    assert incarnation is not None
    client = ctx.socket(zmq.DEALER)
    client.setsockopt(zmq.LINGER, 0)
    client.setsockopt(zmq.SNDHWM, 0)  # queue the whole flood
    client.connect(lab.control)
    time.sleep(0.3)

    frames = garbage_frames("prober", 1)
    for batch in frames.values():
        for frame in batch:
            client.send(frame)
    client.send_multipart([b"two", b"frames"])  # one message is one frame
    beat = Heartbeat(node="node-0", incarnation=incarnation, seq=10**6, ts=0.0,
                     step=0, state=NodeState.ACTIVE)  # fmt: skip
    client.send(encode(beat))  # node-0's id on another connection
    for seq in range(6000):
        flood = beat.model_copy(update={"node": "flooder", "seq": seq})
        client.send(encode(flood))
    expected = {reason: len(batch) for reason, batch in frames.items()}
    expected["garbage"] += 1
    expected |= {"impostor": 1, "flood": 1}

    def counted() -> dict[str, int] | None:
        now = coordinator_drops(lab)
        grown = {r: now.get(r, 0) - before.get(r, 0) for r in expected}
        return grown if all(grown[r] >= n for r, n in expected.items()) else None

    grown = wait_until(counted, 15.0, f"drops by reason {expected}")
    time.sleep(1.0)
    client.close()
    warnings = [
        e
        for e in lab.coordinator.named("messages_dropped")  # type: ignore[union-attr]
    ]

    assert grown["garbage"] >= expected["garbage"]
    assert grown["flood"] >= 6000 - 500 - 2500 * 3, "the burst went over the limit"
    per_reason: dict[str, int] = {}
    for e in warnings:
        per_reason[e["reason"]] = per_reason.get(e["reason"], 0) + 1
    assert max(per_reason.values()) <= 3, f"warnings not rate-limited: {per_reason}"
    assert_healthy_untouched(lab, since)


def test_a_fake_nodes_garbage_impostors_and_flood_reach_nobody(
    lab: FaultLab, ctx: zmq.Context[zmq.Socket[bytes]], tmp_path: Path
) -> None:
    since = time.time()
    before = coordinator_drops(lab)
    victim_incarnation = lab.seen().member_incarnation("node-0")
    assert victim_incarnation is not None
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1", 20000, 32000)
    control = ctx.socket(zmq.DEALER)
    control.setsockopt(zmq.LINGER, 0)
    control.connect(lab.control)
    hello = Hello(node=FAKE, incarnation=1, seq=0, ts=0.0,
                  endpoint=f"tcp://127.0.0.1:{port}", index=None)  # fmt: skip
    control.send(encode(hello))
    for name in HEALTHY:
        wait_until(
            lambda n=name: lab.nodes[n].named("peer_joined", peer=FAKE),  # type: ignore[misc]
            10.0,
            f"{name} dials the fake node",
        )
    time.sleep(1.0)  # let every SUB finish connecting and subscribing

    # A subscriber that never reads, on the fake node's and every real PUB.
    slow = ctx.socket(zmq.SUB)
    slow.setsockopt(zmq.LINGER, 0)
    slow.setsockopt(zmq.RCVHWM, 1)
    slow.setsockopt(zmq.RCVBUF, 4096)
    slow.setsockopt(zmq.SUBSCRIBE, b"")
    slow.connect(f"tcp://127.0.0.1:{port}")
    listing = lab.seen().last_membership()
    assert listing is not None
    for member in listing.members:
        if member.node in HEALTHY:
            slow.connect(member.endpoint)
    time.sleep(0.3)

    frames = garbage_frames(FAKE, 1)
    for batch in frames.values():
        for frame in batch:
            pub.send(frame)
    impostors = 50
    for seq in range(impostors):
        body = state_body("node-0", victim_incarnation, IMPOSTOR_SEQ + seq, 5.0)
        pub.send(b"S" + msgpack.packb(body))
    started = time.monotonic()
    for seq in range(FLOOD):
        pub.send(b"S" + msgpack.packb(state_body(FAKE, 1, seq, 0.3)))
    flood_s = time.monotonic() - started
    expected = {reason: len(batch) for reason, batch in frames.items()}
    expected["impostor"] = impostors

    def counted() -> dict[str, int] | None:
        now = coordinator_drops(lab)
        grown = {r: now.get(r, 0) - before.get(r, 0) for r in expected}
        return grown if all(grown[r] >= n for r, n in expected.items()) else None

    wait_until(counted, 15.0, f"the coordinator's drops {expected}")
    time.sleep(1.0)
    assert_healthy_untouched(lab, since)
    # The never-reading subscriber now reads what it kept: it lost most.
    reader = Decoder(track_sequence=True)
    deadline = time.monotonic() + 3.0  # the live publishers never stop
    while time.monotonic() < deadline and slow.poll(200):
        reader.feed(slow.recv())
    missing = reader.sequence.missing if reader.sequence else 0
    slow.close()
    pub.close()
    control.close()
    took = lab.wait_active(HEALTHY, time.time(), ACTIVE_AGAIN_S)
    for name in HEALTHY:
        lab.stop(lab.nodes[name])
    figures = {n: json.loads((lab.root / f"{n}.json").read_text()) for n in HEALTHY}

    assert flood_s < 10.0, "a PUB never waits for a slow subscriber"
    assert missing > 0, "the slow subscriber's losses show as sequence gaps"
    assert took < 1.0
    for name, node in figures.items():
        drops = node["drops"]
        for reason in ("garbage", "truncated", "version", "non_finite", "impostor"):
            assert drops.get(reason, 0) >= expected[reason], (name, reason, drops)
        assert drops.get("oversize", 0) >= 1, (name, drops)
        assert node["leave_reason"] == "sigterm"
