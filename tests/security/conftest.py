"""Processes for the security tests: the integration fixtures, plus helpers
that start a coordinator and nodes with keys and read their JSON logs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.conftest import (  # noqa: F401  (fixtures re-exported)
    Start,
    child_env,
    processes,
    start_coordinator,
    wait_exit,
    wait_for_file,
    wait_for_log,
)

ROGUE = Path(__file__).with_name("rogue.py")


def start_node(
    start: Start, control: str, tmp_path: Path, index: int, *flags: str
) -> subprocess.Popen[bytes]:
    """Node ``node-INDEX`` dialling ``control``; log and summary in tmp_path."""
    return start(
        "node",
        "--coordinator",
        control,
        "--node-id",
        f"node-{index}",
        "--index",
        str(index),
        "--bind-host",
        "127.0.0.1",
        "--advertise",
        "127.0.0.1",
        "--summary-json",
        str(tmp_path / f"node-{index}.json"),
        *flags,
        log_name=f"node-{index}.log",
    )


def start_rogue(
    tmp_path: Path, started: list[subprocess.Popen[bytes]], *args: str
) -> subprocess.Popen[bytes]:
    """tests/security/rogue.py as a process (``started`` reaps it)."""
    log = (tmp_path / "rogue.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(ROGUE), *args],
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    started.append(proc)
    return proc


def reap(started: list[subprocess.Popen[bytes]]) -> None:
    """Stop and reap processes started outside the ``processes`` fixture."""
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def events(path: Path, name: str | None = None) -> list[dict[str, Any]]:
    """The JSON log lines of ``path`` (only event ``name`` when given)."""
    found = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and (name is None or entry.get("event") == name):
            found.append(entry)
    return found


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> int:
    """SIGTERM and wait: the process writes its summary on the way out."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return wait_exit(proc, timeout_s)
