"""Fuzzing the coordinator's state machine in memory.

Hypothesis drives sequences of hello, heartbeat, state, leave and tick events
whose fields are valid on the wire but hostile (huge indices and steps,
extreme floats, unknown ids, old and new incarnations), mixed with raw frames
(garbage, NaN, other versions) that go through a Decoder first, as in the
server. The core must never raise, never emit a frame that cannot be encoded,
and keep its invariants.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, TypeVar

import msgpack
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from entro_net.config import MAX_NODE_INDEX, THETA_MAX, THETA_MIN, Clock, ModelConfig
from entro_net.coordinator.core import CoordinatorCore
from entro_net.errors import ProtocolError
from entro_net.protocol import (
    Decoder,
    Heartbeat,
    Hello,
    Leave,
    Message,
    NodeState,
    State,
    encode,
)
from tests.node.harness import NET

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")),
    deadline=None,
    stateful_step_count=60,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
MODEL = ModelConfig()
T = TypeVar("T")
INT_MAX = 2**63 - 1

CAST = st.sampled_from(["a", "b", "c"])
node_ids = st.one_of(
    CAST,
    CAST,
    CAST,
    st.sampled_from(["coordinator", "x" * 64]),
    st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:@-]{0,10}\Z"),
)
counts = st.sampled_from([0, 1, 2, 3, 1000, INT_MAX]) | st.integers(0, INT_MAX)
small_counts = st.integers(0, 30)
readings = st.floats(0.0, 2.0)
finite = st.one_of(
    readings,
    readings,
    st.floats(-1e6, 1e6),
    st.sampled_from([0.0, -0.0, 5e-324, 1e6, -1e6, 0.339, 2.0, 0.1]),
)
"""Hostile but within what the decoder lets through (huger numbers are its
business: tests/protocol)."""


def mostly(
    usual: st.SearchStrategy[T], rare: st.SearchStrategy[T]
) -> st.SearchStrategy[T]:
    """``usual`` nine times in ten, else ``rare``."""
    return st.builds(
        lambda u, r, pick: r if pick == 0 else u, usual, rare, st.integers(0, 9)
    )


weight = mostly(st.floats(0.0, 1.0), finite)
hot = mostly(st.sampled_from([1.5, 2.0, 0.1, 0.81]), finite)
calm = mostly(st.sampled_from([0.1, 0.3, 0.39, 0.5, 0.81, 1.5]), finite)
"""Readings: "a" runs hot (isolated, sometimes readmitted), the others calm."""
weights = st.tuples(weight, weight, weight)
endpoints = st.builds(
    "tcp://{}:{}".format, st.sampled_from(["127.0.0.1", "h", "a.b-c"]),
    st.integers(1, 65535),
)  # fmt: skip
indices = st.none() | st.integers(0, 8) | st.sampled_from([MAX_NODE_INDEX, INT_MAX])


senders = st.one_of(
    *[st.tuples(CAST, st.just(1))] * 6,
    st.tuples(node_ids, st.sampled_from([0, 1, 2]) | counts),
)
"""Mostly the cast (a, b, c at incarnation 1), so events reach deep states."""


def header(draw: st.DrawFn) -> dict[str, Any]:
    node, incarnation = draw(senders)
    return {
        "node": node,
        "incarnation": incarnation,
        "seq": draw(counts),
        "ts": draw(finite),
    }


@st.composite
def hellos(draw: st.DrawFn) -> tuple[str, Any]:
    msg = Hello(
        **header(draw),
        endpoint=draw(endpoints),
        weights=draw(st.none() | weights),
        index=draw(indices),
    )
    return "hello", (msg, draw(st.binary(min_size=1, max_size=3)))


@st.composite
def heartbeats(draw: st.DrawFn) -> tuple[str, Any]:
    msg = Heartbeat(
        **header(draw),
        step=draw(small_counts | counts),
        state=draw(st.sampled_from(list(NodeState))),
    )
    conn = draw(st.none() | st.binary(min_size=1, max_size=3))
    return "heartbeat", (msg, conn)


@st.composite
def states(draw: st.DrawFn) -> tuple[str, Any]:
    h = header(draw)
    msg = State(
        h["node"], h["incarnation"], h["seq"], h["ts"],
        draw(small_counts | small_counts | counts),
        draw(hot if h["node"] == "a" else calm), draw(finite),
        draw(finite), draw(weight), draw(weight), draw(weight), draw(finite),
        draw(st.booleans()), draw(finite),
    )  # fmt: skip
    return "state", msg


@st.composite
def leaves(draw: st.DrawFn) -> tuple[str, Any]:
    msg = Leave(**header(draw), reason=draw(st.text(max_size=20)))
    return "leave", (msg, draw(st.booleans()))


ticks = st.tuples(
    st.just("tick"), st.sampled_from([0.0, 0.05, 0.3]) | st.floats(0.0, 10.0)
)


@st.composite
def raw_frames(draw: st.DrawFn) -> tuple[str, Any]:
    """A frame for the Decoder: NaN states, other versions, garbage."""
    body = [1, draw(node_ids), 1, draw(counts), 0.0, draw(small_counts)]
    body += [draw(st.sampled_from([math.nan, math.inf, -math.inf, 0.3]))] * 8
    body += [False, 0.0]
    kind = draw(st.sampled_from(["nan", "version", "garbage", "truncated"]))
    if kind == "version":
        body[0] = draw(st.sampled_from([0, 2, 99]))
    frame = b"S" + msgpack.packb(body)
    if kind == "garbage":
        frame = draw(st.binary(max_size=64))
    elif kind == "truncated":
        frame = frame[: draw(st.integers(0, len(frame) - 1))]
    return "frame", frame


EVENT_MIX = [
    *[states()] * 8, hellos(), heartbeats(), leaves(), ticks, ticks, raw_frames(),
]  # fmt: skip
events = st.lists(
    st.integers(0, len(EVENT_MIX) - 1).flatmap(lambda i: EVENT_MIX[i]),
    min_size=30,
    max_size=80,
)


def check_invariants(core: CoordinatorCore, last_epoch: int) -> None:
    out = core.drain()
    for _, msg in out.reply:
        encode(msg)  # raises on NaN, wrong types or oversize
    for msg in out.publish:
        encode(msg)
    indices = [m.index for m in core.members.values()]
    assert all(0 <= i <= MAX_NODE_INDEX for i in indices)
    assert len(set(indices)) == len(indices), "two members share a column"
    assert THETA_MIN <= core.theta_net <= THETA_MAX
    assert core.epoch >= last_epoch
    assert core.isolated <= set(core.members)
    epochs = [r.epoch for r in core.isolations]
    assert epochs == sorted(set(epochs))


def passes(gate: Decoder, msg: Message) -> bool:
    """Whether ``msg`` can be sent at all and the decoder lets it through."""
    try:
        frame = encode(msg)
    except ProtocolError:
        return False
    return gate.feed(frame) is not None


@FUZZ
@given(clock=st.sampled_from(list(Clock)), script=events)
def test_any_event_sequence_keeps_the_coordinator_sound(
    clock: Clock, script: list[tuple[str, Any]]
) -> None:
    core = CoordinatorCore(MODEL, NET, clock, 0.0, incarnation=5)
    decoder = Decoder(max_bytes=NET.max_message_bytes)
    gate = Decoder(track_sequence=False)
    now = 0.0
    epoch = 0
    for i, node in enumerate(("a", "b", "c")):
        cast = Hello(node=node, incarnation=1, seq=0, ts=0.0,
                     endpoint=f"tcp://127.0.0.1:{21000 + i}", index=i)  # fmt: skip
        core.on_hello(cast, node.encode(), now)
        core.on_heartbeat(
            Heartbeat(**cast.model_dump(include={"node", "incarnation", "seq", "ts"}),
                      step=0, state=NodeState.JOINING),
            None, now,
        )  # fmt: skip
    core.tick(now)
    for kind, item in script:
        now += 0.01
        if kind in ("hello", "heartbeat", "state", "leave") and not passes(
            gate, item if kind == "state" else item[0]
        ):
            continue  # what the server's decoder would drop never arrives
        if kind == "hello":
            core.on_hello(item[0], item[1], now)
        elif kind == "heartbeat":
            core.on_heartbeat(item[0], item[1], now)
        elif kind == "state":
            core.on_state(item, now)
        elif kind == "leave":
            core.on_leave(item[0], now, on_pub=item[1])
        elif kind == "tick":
            now += item
            core.tick(now)
        else:
            before = decoder.dropped
            msg = decoder.feed(item, now=now)
            assert msg is None and decoder.dropped == before + 1
        check_invariants(core, epoch)
        epoch = core.epoch

    event(f"members: {min(len(core.members), 3)}")
    event(f"decisions: {min(len(core.isolations), 2)}")
    event(f"rounds or ticks: {min(len(core.var_history), 2)}")
    saved = json.loads(json.dumps(core.snapshot()))
    again = CoordinatorCore(MODEL, NET, clock, now, incarnation=6)
    assert again.restore(saved, now)
    assert again.epoch == core.epoch and again.theta_net == core.theta_net
    check_invariants(again, core.epoch)
