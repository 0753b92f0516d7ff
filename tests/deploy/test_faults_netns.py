"""Faults that need a cut link, in network namespaces: a partition that heals,
a node cut off from the decision that isolated it, and a coordinator that
comes back on another address behind the same name.

One lab serves the module: a coordinator namespace (``coordinator`` resolves
to it through each node's /etc/netns hosts file), four node namespaces, and
later a second coordinator namespace. The coordinator records every frame
(``--record``) and keeps its state (``--state-file``) on the shared disk;
the recording is the witness, as in tests/integration/faultlab.py.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from entro_net.protocol import Isolate, Threshold
from tests.deploy.compose import REPO
from tests.deploy.netns import Host, Lab, Process, ip
from tests.integration.faultlab import (
    ACTIVE_AGAIN_S,
    DEAD_S,
    FAILURE_FLAGS,
    Seen,
    measured,
    read_seen,
    wait_until,
)

pytestmark = [pytest.mark.netns, pytest.mark.integration]

PORT = 5555
NAME = "coordinator"
MODEL_FLAGS = ["--source", "scraper"]
NODES = ["node-0", "node-1", "node-2"]
LATE = "node-3"  # joins later, faulty, and misses the decision about itself


def events(process: Process) -> list[dict[str, Any]]:
    found = []
    for line in process.log_text().splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def named(process: Process, event: str, **match: Any) -> list[dict[str, Any]]:
    return [
        e
        for e in events(process)
        if e.get("event") == event and all(e.get(k) == v for k, v in match.items())
    ]


@dataclass
class Net:
    """The lab, its processes and where the coordinator keeps its files."""

    lab: Lab
    root: Path
    env: dict[str, str]
    coordinator_host: Host
    coordinator: Process
    hosts: dict[str, Host] = field(default_factory=dict)
    nodes: dict[str, Process] = field(default_factory=dict)

    @property
    def record(self) -> Path:
        return self.root / "run.rec"

    def seen(self) -> Seen:
        return read_seen(self.record)

    def start_coordinator(self, host: Host, tag: str) -> Process:
        self.coordinator_host = host
        self.coordinator = self.lab.start(
            host,
            [
                sys.executable, "-m", "entro_net", "coordinator",
                "--port", str(PORT), "--record", str(self.record),
                "--state-file", str(self.root / "state.json"), "--log-json",
                *FAILURE_FLAGS, *MODEL_FLAGS,
            ],
            self.env,
            tag,
        )  # fmt: skip
        return self.coordinator

    def start_node(self, name: str, index: int, *extra: str) -> Process:
        host = self.hosts.get(name) or self.lab.add_host(name.replace("-", ""))
        self.hosts[name] = host
        self.lab.resolve(host, NAME, self.coordinator_host.address)
        self.nodes[name] = self.lab.start(
            host,
            [
                sys.executable, "-m", "entro_net", "node",
                "--coordinator", f"tcp://{NAME}:{PORT}", "--node-id", name,
                "--index", str(index), "--log-json", *FAILURE_FLAGS,
                *MODEL_FLAGS, *extra,
            ],
            self.env,
            name,
        )  # fmt: skip
        return self.nodes[name]

    def wait_active(self, names: list[str], after: float, timeout_s: float) -> float:
        """Seconds until a state of each node reached the coordinator after
        ``after`` (wall clock)."""

        def latest() -> float | None:
            seen = self.seen()
            firsts = []
            for name in names:
                states = seen.states(name, after)
                if not states:
                    return None
                firsts.append(states[0][0])
            return max(firsts)

        return wait_until(latest, timeout_s, f"states of {names}") - after

    def assert_whole(self) -> Seen:
        seen = self.seen()
        assert seen.stats.torn_tail_bytes == 0
        assert seen.isolated_targets() <= {LATE}, "a healthy node was isolated"
        return seen


@pytest.fixture(scope="module")
def net(module_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    root = tmp_path_factory.mktemp("faults-netns")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(root),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),
    }
    host = module_lab.add_host("coord1")
    made = Net(module_lab, root, env, host, None)  # type: ignore[arg-type]
    made.start_coordinator(host, "coordinator-1")
    for index, name in enumerate(NODES):
        made.start_node(name, index)
    made.wait_active(NODES, 0.0, 90.0)
    yield made


def test_partition_cuts_nodes_off_and_heals(net: Net) -> None:
    cut = ["node-1", "node-2"]
    mark = time.time()
    for name in cut:
        net.lab.set_link(net.hosts[name], up=False)
    try:
        wait_until(
            lambda: all(named(net.coordinator, "member_dead", member=n) for n in cut),
            DEAD_S + 5.0,
            "the cut nodes dead",
        )
        during = [ts for ts, _ in net.seen().states("node-0", mark)]
        step_at_cut = max(s.step for _, s in net.seen().states("node-1"))
    finally:
        for name in cut:
            net.lab.set_link(net.hosts[name], up=True)
    healed = time.time()
    took = net.wait_active(cut, healed, ACTIVE_AGAIN_S + 5.0)
    time.sleep(0.5)
    back = max(s.step for _, s in net.seen().states("node-1", healed))

    assert during and max(during) > mark + DEAD_S - 0.5, "the rest went on"
    assert all(net.nodes[n].popen.poll() is None for n in cut)
    assert back > step_at_cut + 20, "a cut-off node kept stepping alone"
    measured("partition healed: cut nodes heard again", took)
    assert took <= ACTIVE_AGAIN_S, f"active again after {took:.2f} s"
    for name in cut:
        alive = named(net.coordinator, "member_alive", member=name)
        assert alive, f"{name} alive again at the coordinator"
    net.assert_whole()


def drop_events_to(net: Net, host: Host, on: bool) -> None:
    """Drop the coordinator's event stream (port PORT+1) toward ``host``,
    at the coordinator's egress: the control link stays up."""
    name = net.coordinator_host.name

    def tc(*args: str) -> None:
        ip("netns", "exec", name, "tc", *args)

    if not on:
        ip("netns", "exec", name, "tc", "qdisc", "del", "dev", "eth0", "root",
           check=False)  # fmt: skip
        return
    tc("qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "10")
    for minor in ("10", "20"):
        tc("class", "add", "dev", "eth0", "parent", "1:", "classid", f"1:{minor}",
           "htb", "rate", "1gbit")  # fmt: skip
    tc("qdisc", "add", "dev", "eth0", "parent", "1:20", "handle", "20:", "pfifo",
       "limit", "0")  # fmt: skip
    tc("filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1",
       "u32", "match", "ip", "dst", f"{host.address}/32", "match", "ip", "sport",
       str(PORT + 1), "0xffff", "flowid", "1:20")  # fmt: skip


@pytest.mark.skipif(shutil.which("tc") is None, reason="needs tc (iproute2)")
def test_node_cut_off_from_its_isolation_learns_it_by_epoch_once_back(
    net: Net,
) -> None:
    # node-3's host never hears the event stream until the cut is lifted: the
    # isolate decision is never even queued for it, so only its epoch, sent
    # again with the membership, can tell it.
    host = net.lab.add_host("node3")
    net.hosts[LATE] = host
    drop_events_to(net, host, on=True)
    try:
        steps = [m.step for _, m in net.seen().messages if isinstance(m, Threshold)]
        fault_step = max(steps) + 100  # about 5 s from now at 20 Hz
        node = net.start_node(LATE, 3, "--fault", f"3:{fault_step}:2.0")
        net.wait_active([LATE], time.time(), 60.0)
        decision = wait_until(
            lambda: [
                ts
                for ts, m in net.seen().messages
                if isinstance(m, Isolate) and m.target == LATE
            ],
            30.0,
            "the coordinator isolates node-3",
        )
        time.sleep(1.0)
        missed = net.seen().states(LATE, decision[0] + 0.5)
        knew = named(node, "peer_isolated", target=LATE)
        others_knew = named(net.nodes["node-0"], "peer_isolated", target=LATE)
    finally:
        drop_events_to(net, host, on=False)
    restored = time.time()

    def learned() -> float | None:
        states = net.seen().states(LATE, restored)
        flagged = [ts for ts, s in states if s.isolated]
        return flagged[0] if flagged else None

    learned_at = wait_until(learned, ACTIVE_AGAIN_S + 5.0, "node-3 learns it")
    measured("missed decision: learned after the cut", learned_at - restored)

    assert missed and not any(s.isolated for _, s in missed), "it missed it"
    assert knew == [] and others_knew
    assert named(node, "peer_isolated", target=LATE), "it applied the decision"
    assert learned_at - restored <= ACTIVE_AGAIN_S
    seen = net.assert_whole()
    assert seen.isolated_targets() == {LATE}


def test_coordinator_back_on_another_address_behind_the_same_name(net: Net) -> None:
    old = net.coordinator_host
    everyone = [n for n in [*NODES, LATE] if n in net.nodes]
    isolated = [LATE] if LATE in net.nodes else []  # the test before made it
    # The old address goes silent (no reset reaches the nodes), then the
    # process dies; the name now points at a new namespace.
    net.lab.set_link(old, up=False)
    net.coordinator.popen.send_signal(signal.SIGKILL)
    net.coordinator.popen.wait(10.0)
    new = net.lab.add_host("coord2")
    for name in everyone:
        net.lab.resolve(net.hosts[name], NAME, new.address)
    moved = time.time()
    restarted = net.start_coordinator(new, "coordinator-2")

    after = datetime.fromtimestamp(moved, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")

    def rejoined() -> list[dict[str, Any]] | None:
        found = []
        for name in everyone:
            welcomes = [
                e
                for e in named(net.nodes[name], "welcomed", rejoin=True)
                if e["timestamp"][:26] > after
            ]
            if not welcomes:
                return None
            found.append(welcomes[-1])
        return found

    welcomes = wait_until(rejoined, 2 * ACTIVE_AGAIN_S + 10.0, "every node rejoins")
    took = time.time() - moved
    measured("coordinator moved: every node rejoined", took)
    net.wait_active(everyone, time.time(), ACTIVE_AGAIN_S)
    restored = named(restarted, "state_restored")
    redialled = [named(net.nodes[n], "coordinator_redialled") for n in everyone]

    assert restored and restored[0]["isolated"] == isolated
    assert restored[0]["epoch"] >= len(isolated)
    assert all(redialled), "every node dialled the name afresh"
    assert all(w["isolated"] == isolated for w in welcomes)
    assert took <= 2 * ACTIVE_AGAIN_S, f"all back after {took:.2f} s"
    net.assert_whole()
