"""A throw-away network of Linux network namespaces for deploy tests.

Each host is a namespace with ``lo`` up and one veth whose other end sits on a
bridge in the root namespace; the bridge carries no address, so the hosts reach
only each other, never the machine's own interfaces. Names carry the test
run's pid, and ``close`` removes every namespace, veth, bridge and
``/etc/netns/NAME`` folder it made, after stopping its processes by PID.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

NETNS_ETC = Path("/etc/netns")
PREFIX = "entrotest"
STOP_TIMEOUT_S = 10.0


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS``; raises with ip's message when it fails and ``check``."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def is_available() -> str | None:
    """None when namespaces can be made here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    return None


@dataclass
class Host:
    """One namespace: its name, address, host-side veth and hosts file."""

    name: str
    address: str
    veth: str
    hosts: dict[str, str] = field(default_factory=dict)

    @property
    def etc(self) -> Path:
        return NETNS_ETC / self.name


@dataclass
class Process:
    """A command running inside a host, with its log file."""

    host: Host
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


class Lab:
    """Namespaces on one bridge, addressed from a private /24 of this run.

    ``run_id`` is ``PIDxN``: the test run's pid and the lab's number in it.
    """

    def __init__(self, run_id: str, subnet: str, log_dir: Path) -> None:
        if not re.fullmatch(r"\d{1,7}x\d", run_id):
            raise ValueError(f"run_id must be PIDxN (N one digit), got {run_id!r}")
        self.run_id = run_id
        self.network = ipaddress.ip_network(subnet)
        self.bridge = f"e{run_id}br"
        self.log_dir = log_dir
        self.hosts: dict[str, Host] = {}
        self.processes: list[Process] = []
        self._next_host = 1
        self._bridge_made = False
        self._made_netns_etc = False

    # --- building ---------------------------------------------------------

    def open(self) -> None:
        """Create the bridge in the root namespace (no address on it)."""
        self._made_netns_etc = not NETNS_ETC.exists()
        ip("link", "add", self.bridge, "type", "bridge")
        self._bridge_made = True
        ip("link", "set", self.bridge, "up")

    def add_host(self, label: str) -> Host:
        """A new namespace with one address and ``lo`` up."""
        index = self._next_host
        self._next_host += 1
        name = f"{PREFIX}-{self.run_id}-{label}"
        address = str(self.network.network_address + index)
        host = Host(name=name, address=address, veth=f"e{self.run_id}h{index}")
        self.hosts[label] = host

        ip("netns", "add", name)
        host.etc.mkdir(parents=True, exist_ok=True)
        # No DNS inside the namespace: names come from the hosts file only,
        # and an unknown name fails at once instead of timing out.
        (host.etc / "resolv.conf").write_text(
            "nameserver 127.0.0.1\n", encoding="utf-8"
        )
        self.write_hosts(host)
        ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        ip(
            "link",
            "add",
            host.veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            name,
        )
        ip("link", "set", host.veth, "master", self.bridge)
        ip("link", "set", host.veth, "up")
        prefix = self.network.prefixlen
        ip(
            "netns",
            "exec",
            name,
            "ip",
            "addr",
            "add",
            f"{address}/{prefix}",
            "dev",
            "eth0",
        )
        ip("netns", "exec", name, "ip", "link", "set", "eth0", "up")
        return host

    def write_hosts(self, host: Host) -> None:
        """Write /etc/netns/NAME/hosts in place (the open bind mount sees it)."""
        lines = ["127.0.0.1 localhost", f"{host.address} {host.name}"]
        lines += [f"{address} {name}" for name, address in host.hosts.items()]
        with (host.etc / "hosts").open("w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")

    def resolve(self, host: Host, name: str, address: str) -> None:
        """Make ``name`` resolve to ``address`` inside ``host``."""
        host.hosts[name] = address
        self.write_hosts(host)

    # --- running ----------------------------------------------------------

    def start(
        self, host: Host, argv: Sequence[str], env: Mapping[str, str], tag: str
    ) -> Process:
        """Start ``argv`` inside ``host``; ``ip netns exec`` execs it, same PID."""
        log_path = self.log_dir / f"{tag}.log"
        log = log_path.open("wb")
        popen = subprocess.Popen(
            ["ip", "netns", "exec", host.name, *argv],
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        process = Process(host=host, popen=popen, log_path=log_path, log=log)
        self.processes.append(process)
        return process

    def exec(
        self, host: Host, argv: Sequence[str], env: Mapping[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``host`` to completion."""
        return subprocess.run(
            ["ip", "netns", "exec", host.name, *argv],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def set_link(self, host: Host, up: bool) -> None:
        """Cut (or restore) ``host``'s only link, at its root-side veth."""
        ip("link", "set", host.veth, "up" if up else "down")

    # --- tearing down -----------------------------------------------------

    def stop(self, process: Process, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM then SIGKILL one process, by its PID; returns its status."""
        popen = process.popen
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=timeout)
        process.log.close()
        return popen.returncode

    def close(self) -> list[str]:
        """Stop every process and remove everything this lab made.

        Returns what could not be removed (empty when all went).
        """
        problems: list[str] = []
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.processes:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=STOP_TIMEOUT_S)
            with contextlib.suppress(Exception):
                process.log.close()
        for host in self.hosts.values():
            ip("link", "del", host.veth, check=False)
            done = ip("netns", "del", host.name, check=False)
            if done.returncode != 0 and host.name in netns_names():
                problems.append(f"netns {host.name}: {done.stderr.strip()}")
            shutil.rmtree(host.etc, ignore_errors=True)
        if self._bridge_made:
            ip("link", "del", self.bridge, check=False)
        if self._made_netns_etc:
            with contextlib.suppress(OSError):
                NETNS_ETC.rmdir()  # only when empty: another lab may still use it
        return problems + leftovers(self.run_id)


def netns_names() -> list[str]:
    """Names of every network namespace on the machine."""
    out = ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def leftovers(run_id: str) -> list[str]:
    """Namespaces, links and /etc/netns folders of ``run_id`` that still exist."""
    found = [n for n in netns_names() if n.startswith(f"{PREFIX}-{run_id}-")]
    links = ip("-o", "link", "show", check=False).stdout
    found += re.findall(rf"\b(e{run_id}(?:br|h\d+))[@:]", links)
    if NETNS_ETC.is_dir():
        found += [
            str(p)
            for p in NETNS_ETC.iterdir()
            if p.name.startswith(f"{PREFIX}-{run_id}-")
        ]
    return found


def remove_stale() -> None:
    """Remove what earlier runs killed before their cleanup left behind.

    Only names of this module's pattern whose run's pid is no longer alive.
    """
    pattern = re.compile(rf"^{PREFIX}-((\d+)x\d+)-")
    stale_ids: set[str] = set()
    candidates = netns_names()
    if NETNS_ETC.is_dir():
        candidates += [p.name for p in NETNS_ETC.iterdir()]
    for name in candidates:
        match = pattern.match(name)
        if match and not _is_alive(int(match[2])):
            stale_ids.add(match[1])
    for run_id in stale_ids:
        for name in leftovers(run_id):
            if name.startswith("/"):
                shutil.rmtree(name, ignore_errors=True)
            elif name.startswith(PREFIX):
                ip("netns", "del", name, check=False)
            else:
                ip("link", "del", name, check=False)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
