"""One process of the bare pyzmq + msgpack baseline mesh (baseline_mesh.py).

Deliberately imports nothing from entro_net: it is the floor our node is
measured against. Role `node` publishes a tiny msgpack tuple at a fixed rate
and counts what it receives from each peer; role `proxy` is a plain XSUB/XPUB
forwarder. Each talks to the parent over a DEALER socket (hello, peers, ready,
start, result). Every wait is bounded in time and the process leaves on its
own at its deadline or when its parent is gone.
"""

from __future__ import annotations

import argparse
import array
import os
import resource
import sys
import threading
import time
from typing import Any

import msgpack
import zmq

HOST = "tcp://127.0.0.1"
PORT_MIN = 20000
PORT_MAX = 32767  # binds stay below the ephemeral range (DESIGN.md)
KIND_PING = 0
KIND_DATA = 1
PING_INTERVAL_NS = 20_000_000
POLL_MAX_MS = 100
DRAIN_NS = 1_000_000_000
PARENT_CHECK_NS = 500_000_000
MAX_DRAIN_PER_WAKE = 10_000
LINGER_MS = 1000


class WorkerExit(Exception):
    """The worker must stop: deadline, parent gone, or the parent said abort."""


def _rusage_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    """Peak RSS of this process image.

    VmHWM, not ru_maxrss: on Linux ru_maxrss keeps the high-water mark of the
    parent's memory from before exec, so it would report the parent's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Node:
    """A mesh or proxy member: set up, barrier, measured phase, report."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.node_id: int = args.id
        self.n: int = args.n
        self.parent_pid: int = args.parent_pid
        self.deadline_ns = time.monotonic_ns() + int(args.lifetime * 1e9)
        self.next_parent_check_ns = 0
        self.ctx = zmq.Context()
        self.ctrl = self.ctx.socket(zmq.DEALER)
        self.ctrl.setsockopt(zmq.IDENTITY, f"w{self.node_id}".encode())
        self.ctrl.setsockopt(zmq.LINGER, LINGER_MS)
        self.ctrl.connect(f"{HOST}:{args.ctrl}")
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, LINGER_MS)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.poller = zmq.Poller()
        self.poller.register(self.sub, zmq.POLLIN)
        self.poller.register(self.ctrl, zmq.POLLIN)

    def close(self) -> None:
        for sock in (self.sub, self.pub, self.ctrl):
            sock.close()
        self.ctx.term()

    def _guard(self, now_ns: int) -> None:
        if now_ns >= self.deadline_ns:
            raise WorkerExit("deadline")
        if now_ns >= self.next_parent_check_ns:
            self.next_parent_check_ns = now_ns + PARENT_CHECK_NS
            if os.getppid() != self.parent_pid:
                raise WorkerExit("parent gone")

    def _send_ctrl(self, message: dict[str, Any]) -> None:
        self.ctrl.send(msgpack.packb(message))

    def _recv_ctrl(self) -> dict[str, Any]:
        message: dict[str, Any] = msgpack.unpackb(self.ctrl.recv())
        if message.get("type") == "abort":
            raise WorkerExit("aborted by parent")
        return message

    def _wait_ctrl(self, wanted: str) -> dict[str, Any]:
        while True:
            self._guard(time.monotonic_ns())
            if self.ctrl.poll(POLL_MAX_MS):
                message = self._recv_ctrl()
                if message.get("type") == wanted:
                    return message

    def setup(self) -> None:
        """Bind or connect, say hello, and dial the peers the parent names."""
        if self.args.topology == "mesh":
            port = self.pub.bind_to_random_port(HOST, PORT_MIN, PORT_MAX)
        else:
            port = None
            self.pub.connect(f"{HOST}:{self.args.xsub}")
            self.sub.connect(f"{HOST}:{self.args.xpub}")
        self._send_ctrl({"type": "hello", "id": self.node_id, "port": port})
        peers = self._wait_ctrl("peers")
        for peer_port in peers.get("ports", []):
            if peer_port != port:
                self.sub.connect(f"{HOST}:{peer_port}")

    def barrier(self) -> int:
        """Ping until every peer is heard, report ready; return the start time.

        Keeps pinging after it is ready so that slower peers can finish theirs.
        """
        heard: set[int] = set()
        ready_sent = False
        next_ping_ns = 0
        while True:
            now = time.monotonic_ns()
            self._guard(now)
            if now >= next_ping_ns:
                self.pub.send(msgpack.packb((KIND_PING, self.node_id, -1, now)))
                next_ping_ns = now + PING_INTERVAL_NS
            for sock, _ in self.poller.poll(PING_INTERVAL_NS // 1_000_000):
                if sock is self.ctrl:
                    message = self._recv_ctrl()
                    if message.get("type") == "start":
                        return int(message["t0_ns"])
                    continue
                for _ in range(MAX_DRAIN_PER_WAKE):
                    try:
                        frame = self.sub.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    sender = msgpack.unpackb(frame)[1]
                    if sender != self.node_id:
                        heard.add(sender)
            if not ready_sent and len(heard) >= self.n - 1:
                self._send_ctrl({"type": "ready", "id": self.node_id})
                ready_sent = True

    def measure(self, t0_ns: int) -> dict[str, Any]:
        """Publish on a fixed schedule from t0 and count every peer message."""
        rate = float(self.args.rate)
        total = max(1, round(rate * self.args.duration))
        period_ns = round(1e9 / rate)
        end_ns = t0_ns + round(self.args.duration * 1e9) + DRAIN_NS
        expected = total * (self.n - 1)
        received = [0] * self.n
        latencies_us = array.array("q")
        late_max_ns = 0
        seq = 0
        got = 0
        cpu_start: float | None = None
        window_start = 0

        while True:
            now = time.monotonic_ns()
            self._guard(now)
            if seq < total and now >= t0_ns + seq * period_ns:
                if cpu_start is None:
                    cpu_start, window_start = _rusage_cpu_s(), now
                self.pub.send(msgpack.packb((KIND_DATA, self.node_id, seq, now)))
                late_max_ns = max(late_max_ns, now - (t0_ns + seq * period_ns))
                seq += 1
                continue
            if (seq >= total and got >= expected) or now >= end_ns:
                break
            wake_ns = t0_ns + seq * period_ns if seq < total else end_ns
            timeout_ms = min(POLL_MAX_MS, max(0, (wake_ns - now) // 1_000_000))
            for sock, _ in self.poller.poll(timeout_ms):
                if sock is self.ctrl:
                    self._recv_ctrl()
                    continue
                for _ in range(MAX_DRAIN_PER_WAKE):
                    try:
                        frame = self.sub.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    arrived = time.monotonic_ns()
                    kind, sender, number, sent_ns = msgpack.unpackb(frame)
                    if kind != KIND_DATA or sender == self.node_id:
                        continue
                    if 0 <= number < total and 0 <= sender < self.n:
                        received[sender] += 1
                        got += 1
                        latencies_us.append((arrived - sent_ns) // 1000)

        window_end = time.monotonic_ns()
        cpu_window = _rusage_cpu_s() - (cpu_start or 0.0)
        return {
            "type": "result",
            "id": self.node_id,
            "sent": seq,
            "received": got,
            "received_per_sender": received,
            "latencies_us": latencies_us.tobytes(),
            "cpu_s": cpu_window,
            "window_s": (window_end - window_start) / 1e9,
            "cpu_total_s": _rusage_cpu_s(),
            "rss_peak_mb": _peak_rss_mb(),
            "send_late_max_ms": late_max_ns / 1e6,
        }

    def run(self) -> None:
        self.setup()
        t0_ns = self.barrier()
        result = self.measure(t0_ns)
        self._send_ctrl(result)


def run_proxy(args: argparse.Namespace) -> None:
    """Plain XSUB/XPUB forwarder; a watchdog thread ends it at its deadline."""
    ctx = zmq.Context()
    xsub = ctx.socket(zmq.XSUB)
    xpub = ctx.socket(zmq.XPUB)
    ctrl = ctx.socket(zmq.DEALER)
    ctrl.setsockopt(zmq.IDENTITY, b"proxy")
    ctrl.setsockopt(zmq.LINGER, LINGER_MS)
    ctrl.connect(f"{HOST}:{args.ctrl}")
    xsub_port = xsub.bind_to_random_port(HOST, PORT_MIN, PORT_MAX)
    xpub_port = xpub.bind_to_random_port(HOST, PORT_MIN, PORT_MAX)
    ctrl.send(
        msgpack.packb({"type": "hello", "id": -1, "xsub": xsub_port, "xpub": xpub_port})
    )
    deadline = time.monotonic() + args.lifetime

    def watchdog() -> None:
        while time.monotonic() < deadline and os.getppid() == args.parent_pid:
            time.sleep(PARENT_CHECK_NS / 1e9)
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    zmq.proxy(xsub, xpub)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Worker of baseline_mesh.py; started by it, not by hand."
    )
    parser.add_argument("--role", choices=("node", "proxy"), default="node")
    parser.add_argument("--ctrl", type=int, required=True, help="parent ROUTER port")
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--lifetime", type=float, required=True, help="seconds")
    parser.add_argument("--id", type=int, default=0)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--topology", choices=("mesh", "proxy"), default="mesh")
    parser.add_argument("--xsub", type=int, default=0)
    parser.add_argument("--xpub", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.role == "proxy":
        run_proxy(args)
        return 0
    node = Node(args)
    try:
        node.run()
    except WorkerExit as exc:
        print(f"mesh worker {args.id}: stopping: {exc}", file=sys.stderr)
        return 1
    finally:
        node.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
