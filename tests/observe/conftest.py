"""Real networks to observe, and a tmux screen to read; all reaped by PID."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    REAP_TIMEOUT_S,
    child_env,
    processes,
    wait_for_file,
)

__all__ = ["processes"]

RATE = "10"
NODES = 4
FAULTY = 1
FAULT_STEP = 10


def reap(started: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process still running, wait, SIGKILL what is left."""
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + REAP_TIMEOUT_S
    for proc in started:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Network:
    """A coordinator and nodes started as processes, on loopback."""

    root: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ready: dict[str, Any] = field(default_factory=dict)
    coordinator: subprocess.Popen[bytes] | None = None
    nodes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "entro_net", *args],
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started.append(proc)
        return proc

    def start_coordinator(self, *flags: str, port: int = 0) -> dict[str, Any]:
        ready = self.root / "ready.json"
        ready.unlink(missing_ok=True)
        self.coordinator = self.start(
            "coordinator",
            "coordinator", "--port", str(port), "--bind-host", "127.0.0.1",
            "--ready-file", str(ready), "--clock", "free", "--rate", RATE,
            *flags,
        )  # fmt: skip
        self.ready = wait_for_file(ready, 30.0)
        return self.ready

    @property
    def control(self) -> str:
        return str(self.ready["control"])

    def start_node(self, index: int, *flags: str) -> subprocess.Popen[bytes]:
        name = f"node-{index}"
        self.nodes[name] = self.start(
            name,
            "node", "--coordinator", self.control, "--node-id", name,
            "--index", str(index), "--network-size", str(NODES),
            "--bind-host", "127.0.0.1", "--advertise", "127.0.0.1",
            "--clock", "free", "--rate", RATE,
            "--summary-json", str(self.root / f"{name}.json"),
            "--fault", f"{FAULTY}:{FAULT_STEP}:2.0",
            *flags,
        )  # fmt: skip
        return self.nodes[name]

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def a_network(root: Path) -> Iterator[Network]:
    """A ``Network`` whose processes are all reaped on the way out."""
    root.mkdir(parents=True, exist_ok=True)
    network = Network(root)
    try:
        yield network
    finally:
        reap(network.started)


@pytest.fixture(scope="module")
def live_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    """A running free-clock network: coordinator (recording, metrics) + 4 nodes.

    node-1 reads 2.0 from step 10 on, so it is isolated soon after.
    """
    root = tmp_path_factory.mktemp("live")
    with a_network(root) as network:
        network.start_coordinator(
            "--record", str(root / "run.rec"), "--metrics-port", "0"
        )
        for i in range(NODES):
            network.start_node(i)
        yield network


def sniff_lines(
    control: str, *flags: str, count: int, timeout_s: float = 30.0
) -> list[dict[str, Any]]:
    """Run ``entro-net sniff`` to ``count`` messages; its lines as dicts."""
    proc = subprocess.run(
        [sys.executable, "-m", "entro_net", "sniff", "--coordinator", control,
         "--count", str(count), "--duration", str(timeout_s), *flags],
        env=child_env(),
        capture_output=True,
        timeout=timeout_s + 15,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return [json.loads(line) for line in proc.stdout.decode().splitlines()]


# --- tmux --------------------------------------------------------------------


class Tmux:
    """One command in a detached tmux session on our own server socket."""

    def __init__(self, command: list[str], width: int = 140, height: int = 40) -> None:
        self.socket = f"entro-test-{os.getpid()}-{secrets.token_hex(3)}"
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-x", str(width),
            "-y", str(height), " ".join(command),
            ";", "set-option", "remain-on-exit", "on",
        )  # fmt: skip
        self.pane_pid = int(self._tmux("list-panes", "-F", "#{pane_pid}").strip())
        self.server_pid = int(self._tmux("display-message", "-p", "#{pid}").strip())

    def _tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            env=child_env(),
            timeout=10,
            check=True,
        )
        return out.stdout.decode()

    def screen(self) -> str:
        """The pane's text now."""
        return self._tmux("capture-pane", "-p")

    def wait_for(
        self, what: Callable[[str], bool], timeout_s: float, label: str
    ) -> str:
        """Poll the screen until ``what(screen)``; fail with the screen."""
        deadline = time.monotonic() + timeout_s
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if what(screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"screen never showed {label}:\n{screen}")

    def close(self) -> None:
        """End the pane's process and our tmux server, by PID."""
        for pid in (self.pane_pid, self.server_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        for pid in (self.pane_pid, self.server_pid):
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    return True


@pytest.fixture
def tmux() -> Iterator[Callable[..., Tmux]]:
    """Start commands in tmux; every session is ended at the end."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    sessions: list[Tmux] = []

    def start(command: list[str], **size: int) -> Tmux:
        session = Tmux(command, **size)
        sessions.append(session)
        return session

    try:
        yield start
    finally:
        for session in sessions:
            session.close()
