"""Baseline: a bare pyzmq + msgpack all-to-all mesh, with no entro_net at all.

One OS process per node (benchmarks/_mesh_worker.py). In a `mesh` each node
binds a PUB on 127.0.0.1 and SUB-connects to every peer; in `proxy` every node
PUB-connects to a plain XSUB/XPUB forwarder process and SUB-connects to its
other side. After a barrier (every node has heard every peer) all nodes start
at the same CLOCK_MONOTONIC instant and publish at RATE Hz for DURATION
seconds; each receiver counts messages per sender and the publish→receipt
latency. This is the floor that our own node is compared with, and
`run_mesh()` is importable for a later benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import msgpack
import numpy as np
import psutil
import zmq

WORKER = Path(__file__).resolve().parent / "_mesh_worker.py"
HOST = "tcp://127.0.0.1"
PORT_MIN = 20000
PORT_MAX = 32767
TOPOLOGIES = ("mesh", "proxy")
HELLO_TIMEOUT_BASE_S = 20.0
HELLO_TIMEOUT_PER_NODE_S = 0.5
READY_TIMEOUT_S = 60.0
RESULT_GRACE_S = 30.0
DRAIN_S = 1.0  # the worker's own drain after its last send
POLL_MS = 100
REAP_TIMEOUT_S = 3.0
QUICK_NODES = (5, 10)
QUICK_RATES = (10.0, 50.0)
QUICK_DURATION_S = 2.0


class MeshError(Exception):
    """A mesh run failed; the message says at which phase and why."""


def log(message: str) -> None:
    print(f"[baseline_mesh] {message}", file=sys.stderr, flush=True)


class _Run:
    """The parent's side of one run: control socket and child processes."""

    def __init__(self, n: int, rate: float, duration: float, topology: str) -> None:
        self.n = n
        self.rate = rate
        self.duration = duration
        self.topology = topology
        self.lifetime_s = (
            HELLO_TIMEOUT_BASE_S
            + HELLO_TIMEOUT_PER_NODE_S * n
            + READY_TIMEOUT_S
            + duration
            + DRAIN_S
            + RESULT_GRACE_S
        )
        self.ctx = zmq.Context()
        self.ctrl = self.ctx.socket(zmq.ROUTER)
        self.ctrl.setsockopt(zmq.LINGER, 0)
        self.ctrl_port = self.ctrl.bind_to_random_port(HOST, PORT_MIN, PORT_MAX)
        self.nodes: list[subprocess.Popen[bytes]] = []
        self.proxy: subprocess.Popen[bytes] | None = None
        # Closed in close(): the file lives as long as the run object.
        self.stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115

    # -- processes -----------------------------------------------------------

    def _spawn(self, extra: list[str]) -> subprocess.Popen[bytes]:
        command = [sys.executable, str(WORKER), "--ctrl", str(self.ctrl_port)]
        command += ["--parent-pid", str(os.getpid())]
        command += ["--lifetime", f"{self.lifetime_s:.1f}", *extra]
        # A session of its own: Ctrl-C reaches only the parent, which then
        # stops every child by PID.
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            start_new_session=True,
        )

    def _check_alive(self) -> None:
        for proc in [*self.nodes, *([self.proxy] if self.proxy else [])]:
            code = proc.poll()
            if code is not None and code != 0:
                raise MeshError(
                    f"worker pid {proc.pid} exited with {code}: {self.worker_errors()}"
                )

    def worker_errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace").strip()[-1500:]

    def reap(self) -> None:
        """Stop every child by PID: SIGTERM, then SIGKILL; always wait."""
        procs = [*self.nodes, *([self.proxy] if self.proxy else [])]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + REAP_TIMEOUT_S
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=REAP_TIMEOUT_S)

    def close(self) -> None:
        self.ctrl.close()
        self.ctx.term()
        self.stderr.close()

    # -- control channel -----------------------------------------------------

    def _send(self, identity: bytes, message: dict[str, Any]) -> None:
        self.ctrl.send_multipart([identity, msgpack.packb(message)])

    def _collect(
        self, wanted: str, count: int, timeout_s: float
    ) -> dict[bytes, dict[str, Any]]:
        """Receive `count` messages of one type from distinct children."""
        got: dict[bytes, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout_s
        while len(got) < count:
            if time.monotonic() >= deadline:
                raise MeshError(
                    f"{self.topology} N={self.n} rate={self.rate:g}: only "
                    f"{len(got)}/{count} '{wanted}' within {timeout_s:.0f} s; "
                    f"worker stderr: {self.worker_errors() or '(empty)'}"
                )
            self._check_alive()
            if not self.ctrl.poll(POLL_MS):
                continue
            identity, payload = self.ctrl.recv_multipart()
            message = msgpack.unpackb(payload)
            if message.get("type") == wanted:
                got[identity] = message
        return got

    # -- phases --------------------------------------------------------------

    def start_proxy(self) -> tuple[int, int]:
        self.proxy = self._spawn(["--role", "proxy"])
        hello = self._collect("hello", 1, HELLO_TIMEOUT_BASE_S)[b"proxy"]
        return int(hello["xsub"]), int(hello["xpub"])

    def start_nodes(self, xsub: int, xpub: int) -> dict[bytes, dict[str, Any]]:
        for node_id in range(self.n):
            extra = ["--id", str(node_id), "--n", str(self.n)]
            extra += ["--rate", str(self.rate), "--duration", str(self.duration)]
            extra += ["--topology", self.topology]
            extra += ["--xsub", str(xsub), "--xpub", str(xpub)]
            self.nodes.append(self._spawn(extra))
        timeout = HELLO_TIMEOUT_BASE_S + HELLO_TIMEOUT_PER_NODE_S * self.n
        return self._collect("hello", self.n, timeout)

    def execute(self) -> dict[str, Any]:
        started = time.monotonic()
        xsub, xpub = self.start_proxy() if self.topology == "proxy" else (0, 0)
        hellos = self.start_nodes(xsub, xpub)
        ports = [h["port"] for h in hellos.values() if h["port"] is not None]
        for identity in hellos:
            self._send(identity, {"type": "peers", "ports": ports})
        self._collect("ready", self.n, READY_TIMEOUT_S)
        setup_s = time.monotonic() - started
        log(f"{self.topology} N={self.n} rate={self.rate:g}: ready in {setup_s:.1f} s")

        # Every node starts at the same monotonic instant, shortly ahead.
        t0_ns = time.monotonic_ns() + 200_000_000 + 5_000_000 * self.n
        for identity in hellos:
            self._send(identity, {"type": "start", "t0_ns": t0_ns})
        results = self._collect(
            "result", self.n, self.duration + DRAIN_S + RESULT_GRACE_S
        )
        proxy_stats = _process_stats(self.proxy.pid) if self.proxy else None
        return _aggregate(
            self.n,
            self.rate,
            self.duration,
            self.topology,
            list(results.values()),
            setup_s,
            proxy_stats,
        )


def _process_stats(pid: int) -> dict[str, float]:
    """CPU seconds and peak RSS of a running child (the proxy), by PID."""
    proc = psutil.Process(pid)
    times = proc.cpu_times()
    peak_kb = 0.0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak_kb = float(line.split()[1])
    except OSError:
        peak_kb = proc.memory_info().rss / 1024.0
    return {"cpu_s": times.user + times.system, "rss_peak_mb": peak_kb / 1024.0}


def _aggregate(
    n: int,
    rate: float,
    duration: float,
    topology: str,
    results: list[dict[str, Any]],
    setup_s: float,
    proxy_stats: dict[str, float] | None,
) -> dict[str, Any]:
    sent = {int(r["id"]): int(r["sent"]) for r in results}
    total_sent = sum(sent.values())
    expected = sum(total_sent - sent[i] for i in sent)
    received = sum(int(r["received"]) for r in results)
    latency_us = np.concatenate(
        [np.frombuffer(r["latencies_us"], dtype=np.int64) for r in results]
    )
    cpu = np.array([float(r["cpu_s"]) for r in results])
    window = np.array([max(float(r["window_s"]), 1e-9) for r in results])
    rss = np.array([float(r["rss_peak_mb"]) for r in results])

    def pct(q: float) -> float | None:
        if latency_us.size == 0:
            return None
        return float(np.percentile(latency_us, q)) / 1000.0

    return {
        "topology": topology,
        "n": n,
        "rate_hz": rate,
        "duration_s": duration,
        "setup_s": setup_s,
        "sent": total_sent,
        "expected": expected,
        "received": received,
        "loss_pct": 100.0 * (1.0 - received / expected) if expected else 0.0,
        "latency_p50_ms": pct(50),
        "latency_p99_ms": pct(99),
        "latency_max_ms": float(latency_us.max()) / 1000.0 if latency_us.size else None,
        "node_cpu_s_mean": float(cpu.mean()),
        "node_cpu_s_max": float(cpu.max()),
        "node_cpu_pct_mean": float(100.0 * (cpu / window).mean()),
        "node_rss_peak_mb_mean": float(rss.mean()),
        "node_rss_peak_mb_max": float(rss.max()),
        "send_late_max_ms": max(float(r["send_late_max_ms"]) for r in results),
        "proxy_cpu_s": proxy_stats["cpu_s"] if proxy_stats else None,
        "proxy_rss_peak_mb": proxy_stats["rss_peak_mb"] if proxy_stats else None,
        "per_node": [
            {k: v for k, v in r.items() if k not in ("latencies_us", "type")}
            for r in sorted(results, key=lambda r: int(r["id"]))
        ],
    }


def run_mesh(
    n: int, rate: float, duration: float, topology: str = "mesh"
) -> dict[str, Any]:
    """Run one baseline measurement and return its aggregate figures.

    Args:
        n: number of node processes (at least 2).
        rate: messages per second each node publishes.
        duration: seconds of the measured phase, after the ready barrier.
        topology: "mesh" (every node dials every peer) or "proxy" (XSUB/XPUB).

    Returns:
        sent, expected, received, loss %, latency p50/p99/max (ms), per node
        CPU seconds and peak RSS (MB), set-up time, proxy CPU and RSS, and
        the per node reports.

    Raises:
        ValueError: an argument is out of range.
        MeshError: a phase timed out or a worker died; all children are
            stopped before it is raised.
    """
    if n < 2 or rate <= 0 or duration <= 0 or topology not in TOPOLOGIES:
        raise ValueError(
            f"need n >= 2, rate > 0, duration > 0 and topology in {TOPOLOGIES}; "
            f"got n={n} rate={rate} duration={duration} topology={topology!r}"
        )
    run = _Run(n, rate, duration, topology)
    try:
        return run.execute()
    except BaseException:
        for identity in [f"w{i}".encode() for i in range(n)]:
            run._send(identity, {"type": "abort"})
        raise
    finally:
        run.reap()
        run.close()


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


HEADER = (
    f"{'topology':>8} {'N':>4} {'rate':>6} {'sent':>7} {'expected':>9} "
    f"{'received':>9} {'loss%':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
    f"{'cpu%/node':>9} {'rss MB':>7} {'setup s':>7}"
)


def format_row(row: dict[str, Any]) -> str:
    if "error" in row:
        return (
            f"{row['topology']:>8} {row['n']:>4} {row['rate_hz']:>6g}  "
            f"FAILED: {row['error'][:120]}"
        )
    return (
        f"{row['topology']:>8} {row['n']:>4} {row['rate_hz']:>6g} {row['sent']:>7} "
        f"{row['expected']:>9} {row['received']:>9} {row['loss_pct']:>7.2f} "
        f"{_fmt(row['latency_p50_ms'], '8.2f')} {_fmt(row['latency_p99_ms'], '8.2f')} "
        f"{_fmt(row['latency_max_ms'], '8.1f')} {row['node_cpu_pct_mean']:>9.1f} "
        f"{row['node_rss_peak_mb_mean']:>7.1f} {row['setup_s']:>7.1f}"
    )


def _numbers(text: str, kind: type[int] | type[float]) -> list[Any]:
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise SystemExit(f"expected comma-separated numbers, got {text!r}") from exc


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Measure a bare pyzmq + msgpack publish/subscribe network on "
            "127.0.0.1 with one process per node and no entro_net code: every "
            "node publishes a small msgpack message at RATE Hz for DURATION "
            "seconds after a ready barrier; receivers count messages per sender "
            "and publish→receipt latency on CLOCK_MONOTONIC. Prints one row per "
            "(topology, N, rate): sent, expected, received, loss %, latency "
            "p50/p99/max, CPU % of one core per node in the measured window, "
            "peak RSS per node, set-up time. Children are stopped by PID on "
            "exit, failure or Ctrl-C."
        )
    )
    parser.add_argument(
        "--nodes", default="5,10,20,50", help="node counts (default 5,10,20,50)"
    )
    parser.add_argument(
        "--rates", default="10,20,50,100", help="rates in Hz (default 10,20,50,100)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=5.0,
        help="seconds of the measured phase (default 5)",
    )
    parser.add_argument(
        "--topology",
        choices=(*TOPOLOGIES, "both"),
        default="mesh",
        help="mesh: every node dials every peer; proxy: all through one "
        "XSUB/XPUB forwarder; both (default mesh)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="write rows as JSON"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"N={','.join(map(str, QUICK_NODES))} at "
        f"{','.join(f'{r:g}' for r in QUICK_RATES)} Hz for {QUICK_DURATION_S:g} s",
    )
    return parser.parse_args(argv)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    nodes = list(QUICK_NODES) if args.quick else _numbers(args.nodes, int)
    rates = list(QUICK_RATES) if args.quick else _numbers(args.rates, float)
    duration = QUICK_DURATION_S if args.quick else args.duration
    topologies = list(TOPOLOGIES) if args.topology == "both" else [args.topology]
    signal.signal(signal.SIGTERM, _raise_interrupt)

    rows: list[dict[str, Any]] = []
    failed = False
    print(HEADER, flush=True)
    for topology in topologies:
        for n in nodes:
            for rate in rates:
                log(f"{topology} N={n} rate={rate:g} Hz for {duration:g} s")
                try:
                    row = run_mesh(n, rate, duration, topology)
                except (MeshError, ValueError, zmq.ZMQError, OSError) as exc:
                    failed = True
                    row = {"topology": topology, "n": n, "rate_hz": rate}
                    row["error"] = str(exc)
                    log(f"FAILED: {exc}")
                rows.append(row)
                print(format_row(row), flush=True)

    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"benchmark": "baseline_mesh", "duration_s": duration, "rows": rows}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        log(f"results written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; every child was stopped")
        sys.exit(130)
