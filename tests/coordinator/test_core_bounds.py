"""The coordinator's math never sees, and never publishes, absurd numbers.

A finite 1e308 reading once overflowed V_net to inf, and building the
Threshold message raised, killing the coordinator.
"""

from __future__ import annotations

import math

from entro_net.config import Clock, ModelConfig
from entro_net.coordinator.core import CoordinatorCore
from entro_net.protocol import Heartbeat, Hello, NodeState, State, Threshold, encode
from tests.node.harness import coordinator

MODEL = ModelConfig()


def _join(core: CoordinatorCore, *nodes: str) -> None:
    for i, node in enumerate(nodes):
        core.on_hello(
            Hello(node=node, incarnation=1, seq=0, ts=0.0,
                  endpoint=f"tcp://127.0.0.1:{21000 + i}"),
            node.encode(), 0.0,
        )  # fmt: skip
        core.on_heartbeat(
            Heartbeat(node=node, incarnation=1, seq=0, ts=0.0, step=0,
                      state=NodeState.JOINING),
            None, 0.0,
        )  # fmt: skip
    core.tick(0.0)
    core.drain()


def _state(node: str, step: int, value: float) -> State:
    return State(node, 1, step, 0.0, step, value, value, value - 0.339,
                 0.5, 0.3, 0.2, 1.4, False, 0.0)  # fmt: skip


def test_free_clock_ignores_a_huge_state_and_keeps_publishing_finite_thresholds() -> (
    None
):
    core = coordinator(MODEL, Clock.FREE)
    _join(core, "a", "b")

    core.on_state(_state("a", 1, 0.3), 0.05)
    core.on_state(_state("b", 1, 1e308), 0.05)
    core.tick(0.1)
    out = core.drain()

    thresholds = [m for m in out.publish if isinstance(m, Threshold)]
    assert thresholds, "the tick still publishes θ_net"
    assert all(math.isfinite(t.v_net) and math.isfinite(t.var) for t in thresholds)
    for msg in out.publish:
        encode(msg)  # every published message is on the wire's terms
    assert core.rejected == {"out_of_range": 1}


def test_lockstep_round_runs_without_the_huge_state() -> None:
    core = coordinator(MODEL, expect=2)
    _join(core, "a", "b")

    core.on_state(_state("a", 0, 0.2), 0.1)
    core.on_state(_state("b", 0, -1e308), 0.1)
    core.tick(0.1 + 10.0)
    out = core.drain()

    thresholds = [m for m in out.publish if isinstance(m, Threshold)]
    assert thresholds and all(math.isfinite(t.v_net) for t in thresholds)
    assert core.rejected["out_of_range"] == 1


def test_a_message_our_own_math_got_wrong_is_logged_not_sent() -> None:
    from structlog.testing import capture_logs

    from entro_net.coordinator.server import encode_checked

    with capture_logs() as logged:
        assert encode_checked(_state("a", 0, 1e308), 65536) is None
        assert encode_checked(_state("a", 0, float("nan")), 65536) is None
        assert encode_checked(_state("a", 0, 0.3), 65536) is not None
    assert [e["reason"] for e in logged] == ["out_of_range", "non_finite"]
