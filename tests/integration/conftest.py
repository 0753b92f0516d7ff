"""Fixtures that start real ENTRO-NET processes and always reap them by PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import entro_net

ROOT = Path(entro_net.__file__).resolve().parent.parent
REAP_TIMEOUT_S = 10.0

pytestmark = pytest.mark.integration


def child_env() -> dict[str, str]:
    """This environment with the package under test first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    env.pop("ENTRO_NET_PORT", None)
    return env


Start = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Start]:
    """Start ``entro-net`` processes; every one is killed and reaped at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, log_name: str | None = None) -> subprocess.Popen[bytes]:
        log_path = tmp_path / (log_name or f"proc-{len(started)}.log")
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "entro_net", *args],
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        return proc

    try:
        yield start
    finally:
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


def wait_for_file(path: Path, timeout_s: float) -> dict[str, Any]:
    """Wait until ``path`` holds JSON; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            try:
                data: dict[str, Any] = json.loads(path.read_text())
                return data
            except json.JSONDecodeError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear within {timeout_s} s")


def wait_for_log(path: Path, text: str, timeout_s: float, count: int = 1) -> None:
    """Wait until ``text`` appears ``count`` times in the log at ``path``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count(text) >= count:
            return
        time.sleep(0.05)
    tail = path.read_text()[-2000:] if path.exists() else "(no log)"
    raise AssertionError(
        f"{text!r} x{count} not in {path.name} in {timeout_s} s:\n{tail}"
    )


def wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> int:
    """Wait for ``proc`` to end; fail (the fixture reaps it) after ``timeout_s``."""
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"process {proc.pid} still running after {timeout_s} s"
        ) from None


def run_up(
    start: Start, tmp_path: Path, *flags: str, timeout_s: float = 90.0
) -> dict[str, Any]:
    """Run ``entro-net up`` to its end and return its summary JSON."""
    summary = tmp_path / "summary.json"
    proc = start(
        "up",
        "--port",
        "0",
        "--plain",
        "--summary-json",
        str(summary),
        "--log-dir",
        str(tmp_path / "logs"),
        *flags,
        log_name="up.log",
    )
    code = wait_exit(proc, timeout_s)
    output = (tmp_path / "up.log").read_text()
    assert code == 0, output[-3000:]
    data: dict[str, Any] = json.loads(summary.read_text())
    return data


def start_coordinator(
    start: Start, tmp_path: Path, *flags: str, name: str = "coordinator"
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """A coordinator on free ports; returns it and its ready file."""
    ready = tmp_path / f"{name}.ready.json"
    proc = start(
        "coordinator",
        "--port",
        "0",
        "--ready-file",
        str(ready),
        "--summary-json",
        str(tmp_path / f"{name}.summary.json"),
        *flags,
        log_name=f"{name}.log",
    )
    return proc, wait_for_file(ready, 30.0)
