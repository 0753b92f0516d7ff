"""A lockstep network survives one node paused (SIGSTOP) well past the round wait.

The peers stop waiting for the paused node after ``--lockstep-wait``; once it
runs again (SIGCONT) its backlog of queued peer states must not be dropped as
a flood, and it must catch up with (or resync to) the network's round, so
every node reaches the last step and the network takes it in again.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import zmq

from entro_net.protocol import Decoder, Threshold
from tests.integration.conftest import Start, wait_exit, wait_for_file

pytestmark = pytest.mark.integration

NODES = 5
STEPS = 1500
WAIT_S = 1.0
PAUSED = 3
PAUSE_AT = 150
RUN_TIMEOUT_S = 120.0
GO_ON_TIMEOUT_S = 30.0


def node_flags(tmp_path: Path, port: int, index: int) -> list[str]:
    name = f"node-{index}"
    return [
        "node", "--coordinator", f"tcp://127.0.0.1:{port}",
        "--node-id", name, "--index", str(index), "--network-size", str(NODES),
        "--bind-host", "127.0.0.1", "--advertise", "127.0.0.1",
        "--clock", "lockstep", "--lockstep-wait", str(WAIT_S),
        "--steps", str(STEPS), "--summary-json", str(tmp_path / f"{name}.json"),
    ]  # fmt: skip


class Rounds:
    """Follows the coordinator's θ_net messages: one per closed round."""

    def __init__(self, events: str) -> None:
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"T")
        self.sub.connect(events)
        self.decoder = Decoder()
        self.step = 0
        self.taking_part: dict[int, int] = {}

    def poll(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.sub.poll(20):
                continue
            msg = self.decoder.feed(self.sub.recv())
            if isinstance(msg, Threshold):
                self.step = max(self.step, msg.step)
                self.taking_part[msg.step] = msg.n_taking_part

    def wait_for(self, step: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.step < step:
            if time.monotonic() > deadline:
                raise AssertionError(f"round {step} not reached in {timeout_s} s")
            self.poll(0.1)

    def close(self) -> None:
        self.sub.close(0)
        self.ctx.term()


def test_a_lockstep_node_paused_for_three_round_waits_rejoins_and_all_finish(
    processes: Start, tmp_path: Path
) -> None:
    ready = tmp_path / "ready.json"
    processes("coordinator", "--port", "0", "--ready-file", str(ready),
              "--bind-host", "127.0.0.1", "--clock", "lockstep",
              "--lockstep-wait", str(WAIT_S), "--expect", str(NODES),
              log_name="coordinator.log")  # fmt: skip
    endpoints = wait_for_file(ready, 20.0)
    rounds = Rounds(endpoints["events"])
    nodes = [
        processes(*node_flags(tmp_path, endpoints["port"], i), log_name=f"node-{i}.log")
        for i in range(NODES)
    ]
    paused = nodes[PAUSED]
    try:
        rounds.wait_for(PAUSE_AT, 60.0)
        os.kill(paused.pid, signal.SIGSTOP)
        try:
            stopped_at = rounds.step
            rounds.poll(3.0 * WAIT_S)
            # The others go on without it: after two missed rounds they stop
            # waiting and run free. How fast they then run depends on the
            # machine's load, so wait for the rounds rather than a fixed time.
            rounds.wait_for(stopped_at + 20, GO_ON_TIMEOUT_S)
            assert rounds.step < STEPS - 200, "the run is too short for this test"
        finally:
            os.kill(paused.pid, signal.SIGCONT)
        resumed_at = rounds.step
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while any(n.poll() is None for n in nodes) and time.monotonic() < deadline:
            rounds.poll(0.2)
        codes = [wait_exit(n, max(1.0, deadline - time.monotonic())) for n in nodes]
    finally:
        rounds.close()

    assert codes == [0] * NODES
    figures = [
        json.loads((tmp_path / f"node-{i}.json").read_text()) for i in range(NODES)
    ]
    for node in figures:
        # Every node, the paused one too, reached the last round and left on it.
        assert node["leave_reason"] == "steps_done", node
        assert node["last_step"] == STEPS - 1, node
        assert node["drops"].get("flood", 0) == 0, node
    for i, node in enumerate(figures):
        if i != PAUSED:
            assert node["steps"] == STEPS, node
            assert node["isolated"] is False, node
    # The network counted the paused node again after it came back.
    later = [n for step, n in rounds.taking_part.items() if step > resumed_at + 50]
    assert later and max(later) == NODES, sorted(rounds.taking_part.items())[-20:]
