"""`watch` in a real terminal (tmux) against real processes, and a coordinator
killed with SIGKILL: the view survives it, the recording replays up to the cut."""

from __future__ import annotations

import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from entro_net.observe.trajectory import load_run
from entro_net.recording import ReadStats, read_recording
from tests.observe.conftest import FAULTY, Tmux, a_network
from tests.observe.test_record_replay import entro_net

pytestmark = pytest.mark.integration

NODES = 3
ROW = re.compile(r"^│(node-\d+)\s*│\s*(\w+)\s*│")


def states(screen: str) -> dict[str, str]:
    """node → state, from the table rows on the screen."""
    return {
        m.group(1): m.group(2)
        for line in screen.splitlines()
        if (m := ROW.match(line)) is not None
    }


def test_watch_shows_every_node_and_survives_a_killed_coordinator(
    tmp_path: Path, tmux: Callable[..., Tmux]
) -> None:
    record = tmp_path / "run.rec"
    with a_network(tmp_path) as network:
        ready = network.start_coordinator("--record", str(record))
        for i in range(NODES):
            network.start_node(i)
        screen = tmux(
            [sys.executable, "-m", "entro_net", "watch",
             "--coordinator", network.control, "--refresh", "4"],
        )  # fmt: skip

        # every node on screen: the faulty one isolated, the others active
        want = {f"node-{i}": "active" for i in range(NODES)}
        want[f"node-{FAULTY}"] = "isolated"
        text = screen.wait_for(lambda s: states(s) == want, 40.0, f"states {want}")
        assert f"{NODES} nodes" in text
        assert "coordinator: connected" in text

        # a node killed with SIGKILL turns dead
        network.nodes["node-2"].kill()
        screen.wait_for(
            lambda s: states(s).get("node-2") == "dead", 20.0, "node-2 dead"
        )

        # the coordinator killed with SIGKILL: away, nodes still on screen
        assert network.coordinator is not None
        network.coordinator.send_signal(signal.SIGKILL)
        network.coordinator.wait(timeout=10)
        cut = time.time()
        text = screen.wait_for(lambda s: "AWAY" in s, 20.0, "coordinator away")
        assert states(text).get("node-0") == "active"

        # the recording cut by SIGKILL reads and replays up to the cut
        stats = ReadStats()
        records = list(read_recording(record, stats=stats))
        assert len(records) > 50
        assert cut - 3.0 < records[-1].ts <= cut
        run = load_run(record)
        assert run.undecodable == 0
        assert min(max(s.psi) for s in run.nodes.values()) > 10
        replay = entro_net("replay", str(record), "--speed", "0", "--plain")
        assert "coordinator" in replay.stdout

        # back on the same port (appending to the same recording): connected
        network.start_coordinator("--record", str(record), port=int(ready["port"]))
        screen.wait_for(
            lambda s: (
                "coordinator: connected" in s and states(s).get("node-0") == "active"
            ),
            30.0,
            "coordinator back",
        )

    after = list(read_recording(record))
    assert len(after) > len(records)
    assert after[: len(records)] == records
