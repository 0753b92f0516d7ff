"""Process faults over real processes: kill, pause, restart, leave, and the
coordinator killed mid-run. One network serves the whole module; each test
leaves it whole again (every node active) for the next.

After every scenario: the recording reads to its end, every surviving node
is active again within ``ACTIVE_AGAIN_S``, and no isolate decision names a
healthy node (only ``node-4`` is faulty: it reads 2.0 from step 40 on).
"""

from __future__ import annotations

import itertools
import json
import random
import signal
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.faultlab import (
    ACTIVE_AGAIN_S,
    DEAD_S,
    HEARTBEAT_S,
    SUSPECT_S,
    FaultLab,
    assert_recording_whole,
    measured,
    wait_until,
)

pytestmark = pytest.mark.integration


def free_port() -> int:
    """A free port below the ephemeral range (outgoing connections never take it)."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below 32000")


HEALTHY = ["node-0", "node-1", "node-2", "node-3"]
FAULTY = "node-4"
MODEL_FLAGS = ["--source", "scraper", "--fault", "4:40:2.0"]
NODE0_PORT = free_port()
"""node-0 binds a fixed port, so its restart reuses the endpoint."""
SLACK_S = 1.5
"""What two loaded cores may add to a deadline the coordinator checks."""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultLab]:
    made = FaultLab(tmp_path_factory.mktemp("faults"), coordinator_flags=MODEL_FLAGS)
    try:
        made.start_coordinator()
        for index, name in enumerate([*HEALTHY, FAULTY]):
            fixed = ["--node-port", str(NODE0_PORT)] if index == 0 else []
            made.start_node(name, index, *MODEL_FLAGS, *fixed)
        made.wait_active([*HEALTHY, FAULTY], 0.0, 60.0)
        wait_until(
            lambda: FAULTY in made.seen().isolated_targets(), 30.0, "node-4 isolated"
        )
        yield made
    finally:
        made.close()


def assert_whole_again(lab: FaultLab, since: float) -> float:
    """Every node active after ``since`` within the bound; the recording
    whole; only the faulty node ever isolated. Returns the seconds it took."""
    took = lab.wait_active(HEALTHY, since, ACTIVE_AGAIN_S + 5.0)
    measured("every node active again", took)
    seen = assert_recording_whole(lab)
    assert took <= ACTIVE_AGAIN_S, f"active again after {took:.2f} s"
    assert seen.isolated_targets() == {FAULTY}, "a healthy node was isolated"
    return took


def coordinator_events(
    lab: FaultLab, event: str, member: str, after: str
) -> list[dict[str, Any]]:
    assert lab.coordinator is not None
    return [
        e
        for e in lab.coordinator.named(event, member=member)
        if e.get("timestamp", "")[:26] > after
    ]


def iso_now() -> str:
    """Now as the logs stamp it (UTC, microseconds), for ``e["timestamp"] >``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def test_sigterm_node_leaves_cleanly_and_is_not_reported_failed(lab: FaultLab) -> None:
    mark = iso_now()
    node = lab.nodes["node-3"]

    code = lab.stop(node)
    left_at = time.time()
    time.sleep(DEAD_S + 0.5)  # long enough that a missed beat would have shown
    figures = json.loads((lab.root / "node-3.json").read_text())
    left = coordinator_events(lab, "member_left", "node-3", mark)
    missed = coordinator_events(lab, "heartbeat_missed", "node-3", mark)
    dead = coordinator_events(lab, "member_dead", "node-3", mark)
    lab.start_node("node-3", 3, *MODEL_FLAGS)

    assert code == 0
    assert figures["leave_reason"] == "sigterm"
    assert [e["reason"] for e in left] == ["sigterm"]
    assert missed == [] and dead == [], "a clean leave is not a failure"
    assert lab.seen().states("node-0", left_at + DEAD_S), "the others went on"
    assert_whole_again(lab, time.time())


def test_sigkilled_node_is_suspect_then_dead_and_the_others_go_on(
    lab: FaultLab,
) -> None:
    mark = iso_now()
    killed_at = time.time()
    lab.nodes["node-2"].signal(signal.SIGKILL)

    wait_until(
        lambda: coordinator_events(lab, "member_dead", "node-2", mark),
        DEAD_S + SLACK_S + 3.0,
        "node-2 dead",
    )
    dead_s = time.time() - killed_at
    measured("SIGKILL: dead after", dead_s)
    suspect = coordinator_events(lab, "heartbeat_missed", "node-2", mark)
    others = lab.seen().states("node-0", killed_at)
    lab.nodes["node-2"].popen.wait(5.0)
    lab.start_node("node-2", 2, *MODEL_FLAGS)

    assert suspect and suspect[0]["silent_s"] >= SUSPECT_S - 0.001  # rounded to ms
    # Silence counts from the last beat, up to one interval before the kill.
    assert DEAD_S - HEARTBEAT_S <= dead_s <= DEAD_S + SLACK_S
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(others)]
    assert others and max(gaps) < 1.0, "node-0 kept stepping while node-2 died"
    assert_whole_again(lab, time.time())


def test_node_paused_between_suspect_and_dead_is_only_suspect(lab: FaultLab) -> None:
    mark = iso_now()
    node = lab.nodes["node-1"]
    pause_s = 5 * HEARTBEAT_S  # 1.0 s: past suspect (0.6 s), short of dead (1.6 s)

    node.signal(signal.SIGSTOP)
    time.sleep(pause_s)
    node.signal(signal.SIGCONT)
    resumed = time.time()
    took = lab.wait_active(["node-1"], resumed, ACTIVE_AGAIN_S)
    measured("SIGSTOP 1.0 s: stepping again after SIGCONT", took)
    time.sleep(0.5)

    assert coordinator_events(lab, "heartbeat_missed", "node-1", mark)
    assert coordinator_events(lab, "member_dead", "node-1", mark) == []
    assert took < 1.0, "a resumed node steps on at once"
    assert_whole_again(lab, resumed)


def test_node_paused_past_dead_comes_back_alive_by_itself(lab: FaultLab) -> None:
    mark = iso_now()
    node = lab.nodes["node-1"]

    node.signal(signal.SIGSTOP)
    time.sleep(DEAD_S + 1.5)
    dead = coordinator_events(lab, "member_dead", "node-1", mark)
    node.signal(signal.SIGCONT)
    resumed = time.time()
    # Back either way: its next heartbeat makes the dead member alive again,
    # or, if it said hello first (it gave a silent coordinator up while it
    # was stopped), it rejoins as a member afresh.
    wait_until(
        lambda: (
            coordinator_events(lab, "member_alive", "node-1", mark)
            or coordinator_events(lab, "member_joined", "node-1", mark)
        ),
        ACTIVE_AGAIN_S,
        "node-1 alive again",
    )

    assert dead, "paused past dead_after, it was declared dead"
    assert_whole_again(lab, resumed)


def test_node_restarted_at_once_under_its_id_replaces_the_old_member(
    lab: FaultLab,
) -> None:
    mark = iso_now()
    old = lab.seen().member_incarnation("node-0")
    port = NODE0_PORT

    lab.nodes["node-0"].signal(signal.SIGKILL)
    lab.nodes["node-0"].popen.wait(5.0)
    restarted = time.time()
    lab.start_node("node-0", 0, *MODEL_FLAGS, "--node-port", str(port))
    took = lab.wait_active(["node-0"], restarted, ACTIVE_AGAIN_S)
    measured("restart under the same id: new process heard", took)
    new = wait_until(
        lambda: (lab.seen().member_incarnation("node-0") or 0) > (old or 0) or None,
        5.0,
        "the new incarnation listed",
    )
    states = lab.seen().states("node-0", restarted)

    assert old is not None and new
    assert {s.incarnation for _, s in states} == {
        lab.seen().member_incarnation("node-0")
    }, "the coordinator hears the new process on the same port"
    assert coordinator_events(lab, "member_dead", "node-0", mark) == []
    assert took <= ACTIVE_AGAIN_S
    heard = lab.nodes["node-1"].named("peer_heard", peer="node-0")
    assert len(heard) >= 2, "a peer dialled the new incarnation too"
    assert_whole_again(lab, restarted)


def test_coordinator_killed_and_restarted_restores_membership_theta_and_epochs(
    lab: FaultLab,
) -> None:
    assert lab.coordinator is not None
    before = lab.seen()
    theta_before = [m.theta_net for _, m in before.states("node-0")][-1]
    records_before = before.stats.records

    lab.coordinator.signal(signal.SIGKILL)
    lab.coordinator.popen.wait(5.0)
    killed_at = time.time()
    time.sleep(DEAD_S + 1.0)  # the nodes notice and run on their own
    for name in HEALTHY:
        assert lab.nodes[name].popen.poll() is None
    lost = [lab.nodes[n].named("coordinator_lost") for n in HEALTHY]
    restarted = lab.start_coordinator(name="coordinator-2")
    back_at = time.time()
    restored = wait_until(lambda: restarted.named("state_restored"), 10.0, "restore")
    took = lab.wait_active([*HEALTHY, FAULTY], back_at, ACTIVE_AGAIN_S)

    def every_welcome() -> list[list[dict[str, Any]]] | None:
        found = [lab.nodes[n].named("welcomed", rejoin=True) for n in HEALTHY]
        return found if all(found) else None

    rejoined = wait_until(every_welcome, ACTIVE_AGAIN_S, "every node re-registered")
    registered_s = time.time() - back_at
    time.sleep(1.0)
    after = lab.seen()
    measured("coordinator restart: states at the new coordinator", took)
    measured("coordinator restart: every node re-registered", registered_s)

    assert all(lost), "every node noticed the silence"
    assert restored[0]["members"] == 5
    assert restored[0]["epoch"] >= 1 and restored[0]["isolated"] == [FAULTY]
    assert abs(restored[0]["theta_net"] - theta_before) < 0.05
    ran_alone = after.states("node-0", killed_at)
    assert ran_alone and all(
        abs(s.theta_net - theta_before) < 0.05 for _, s in ran_alone
    ), "nodes kept their θ_net, and the restored coordinator went on from it"
    joined = restarted.named("member_joined")
    assert joined == [], "nobody is a new member: the restart restored them"
    assert all(r[-1]["isolated"] == [FAULTY] for r in rejoined)
    assert after.stats.records > records_before
    assert took <= ACTIVE_AGAIN_S
    assert_whole_again(lab, back_at)
