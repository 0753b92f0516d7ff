"""A small network of real processes for fault tests, read through its recording.

The coordinator runs with ``--record``, and the recording is the witness of
every scenario: each frame the coordinator received or published, with the
wall-clock time it saw it. "Node X is active again" means a state of X
reached the coordinator after the fault ended; "no healthy node was
isolated" means no isolate decision names one; "no recorded data was lost"
means the recording reads to its end with no torn or corrupt record.

Every process is started here and stopped by PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from entro_net.errors import ProtocolError
from entro_net.protocol import Isolate, Membership, Message, State, decode
from entro_net.recording import ReadStats, read_recording
from tests.integration.conftest import child_env

T = TypeVar("T")

HEARTBEAT_S = 0.2
SUSPECT_AFTER = 3
DEAD_AFTER = 8
BACKOFF_MAX_S = 1.0
RATE_HZ = 20
SUSPECT_S = SUSPECT_AFTER * HEARTBEAT_S
DEAD_S = DEAD_AFTER * HEARTBEAT_S
FAILURE_FLAGS = [
    "--heartbeat-interval", str(HEARTBEAT_S),
    "--suspect-after", str(SUSPECT_AFTER),
    "--dead-after", str(DEAD_AFTER),
    "--rejoin-backoff-max", str(BACKOFF_MAX_S),
    "--clock", "free", "--rate", str(RATE_HZ),
]  # fmt: skip
ACTIVE_AGAIN_S = DEAD_S + 2 * BACKOFF_MAX_S + 2.0
"""The bound every scenario holds a surviving node to: a state of it reaches
the coordinator this long after the fault ended (silence until the node
gives the coordinator up, a backoff or two of hellos, slack for two loaded
cores)."""
STOP_TIMEOUT_S = 10.0


def measured(what: str, seconds: float) -> None:
    """Print one measured figure (``pytest -s`` shows them; docs/FAULTS.md)."""
    print(f"MEASURED {what}: {seconds:.2f} s")


def wait_until(check: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``check`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.1f} s: {what}")
        time.sleep(0.05)


@dataclass
class Seen:
    """The recording decoded: (wall time, message) in the order recorded."""

    messages: list[tuple[float, Message]]
    undecodable: int
    stats: ReadStats

    def states(self, node: str, after: float = 0.0) -> list[tuple[float, State]]:
        return [
            (ts, m)
            for ts, m in self.messages
            if isinstance(m, State) and m.node == node and ts > after
        ]

    def isolated_targets(self) -> set[str]:
        return {m.target for _, m in self.messages if isinstance(m, Isolate)}

    def last_membership(self) -> Membership | None:
        found = [m for _, m in self.messages if isinstance(m, Membership)]
        return found[-1] if found else None

    def member_incarnation(self, node: str) -> int | None:
        listing = self.last_membership()
        if listing is None:
            return None
        for member in listing.members:
            if member.node == node:
                return member.incarnation
        return None


def read_seen(path: Path) -> Seen:
    """Decode every whole record of the recording at ``path``."""
    stats = ReadStats()
    messages: list[tuple[float, Message]] = []
    undecodable = 0
    if not path.exists():
        return Seen(messages, undecodable, stats)  # not started yet
    for record in read_recording(path, stats=stats):
        try:
            messages.append((record.ts, decode(record.frame)))
        except ProtocolError:
            undecodable += 1
    return Seen(messages, undecodable, stats)


@dataclass
class Proc:
    """One process this lab started."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return found

    def named(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events()
            if e.get("event") == event and all(e.get(k) == v for k, v in match.items())
        ]

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signum)


@dataclass
class FaultLab:
    """A coordinator (recording, keeping a state file) and named nodes."""

    root: Path
    port: int = 0
    procs: list[Proc] = field(default_factory=list)
    coordinator: Proc | None = None
    nodes: dict[str, Proc] = field(default_factory=dict)
    coordinator_flags: list[str] = field(default_factory=list)

    @property
    def record(self) -> Path:
        return self.root / "run.rec"

    @property
    def state_file(self) -> Path:
        return self.root / "coordinator.state.json"

    @property
    def control(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self, name: str, *args: str) -> Proc:
        log_path = self.root / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "entro_net", *args],
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def start_coordinator(self, *extra: str, name: str = "coordinator") -> Proc:
        """Start (or restart, on the same port) the coordinator."""
        ready = self.root / f"{name}.ready.json"
        ready.unlink(missing_ok=True)
        self.coordinator = self.start(
            name,
            "coordinator", "--port", str(self.port), "--ready-file", str(ready),
            "--bind-host", "127.0.0.1", "--record", str(self.record),
            "--state-file", str(self.state_file), "--log-json",
            *FAILURE_FLAGS, *self.coordinator_flags, *extra,
        )  # fmt: skip
        endpoints = wait_until(lambda: _json(ready), 30.0, "the coordinator's ports")
        self.port = int(endpoints["port"])
        return self.coordinator

    def start_node(self, name: str, index: int, *extra: str) -> Proc:
        proc = self.start(
            name,
            "node", "--coordinator", self.control, "--node-id", name,
            "--index", str(index), "--bind-host", "127.0.0.1",
            "--advertise", "127.0.0.1", "--log-json",
            "--summary-json", str(self.root / f"{name}.json"),
            *FAILURE_FLAGS, *extra,
        )  # fmt: skip
        self.nodes[name] = proc
        return proc

    def seen(self) -> Seen:
        return read_seen(self.record)

    def wait_active(
        self, names: Sequence[str], after: float, timeout_s: float
    ) -> float:
        """Wait until a state of each node reached the coordinator after
        ``after`` (wall clock); return the seconds that took at most."""

        def latest() -> float | None:
            for name in names:
                proc = self.nodes[name]
                if proc.popen.poll() is not None:
                    tail = proc.log_path.read_text(errors="replace")[-2000:]
                    raise AssertionError(f"{name} exited: {tail}")
            seen = self.seen()
            firsts = []
            for name in names:
                states = seen.states(name, after)
                if not states:
                    return None
                firsts.append(states[0][0])
            return max(firsts)

        first = wait_until(latest, timeout_s, f"states of {list(names)}")
        return first - after

    def stop(self, proc: Proc, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then SIGKILL after ``timeout_s``; reap by PID."""
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
        try:
            return proc.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            return proc.popen.wait()

    def close(self) -> None:
        """Resume, stop and reap every process this lab started."""
        for proc in self.procs:
            proc.signal(signal.SIGCONT)
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self.procs:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def assert_recording_whole(lab: FaultLab) -> Seen:
    """The recording reads to its end: no torn or corrupt record, and every
    frame a node or the coordinator sent decodes."""
    seen = lab.seen()
    assert seen.stats.torn_tail_bytes == 0, "the recording has a torn tail"
    assert seen.stats.records == len(seen.messages) + seen.undecodable
    assert seen.messages, "nothing recorded"
    return seen
