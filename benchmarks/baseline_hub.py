"""Baseline: the hub topology in bare pyzmq + msgpack, with no entro_net at all.

One forked OS process per node and one relay. Every node ticks on the same
CLOCK_MONOTONIC grid at RATE Hz and PUB-sends one small msgpack state to the
relay's SUB; the relay forwards each tick's states as one batch on its PUB
(when all N arrived, or 5 ms after the first, as the product's hub does);
every node SUB-receives the batches and measures publish→receipt delay of
each peer's state. Nothing else happens in a node: this is the floor that
`entro-net up --topology hub` is compared with. The first second is not
measured (the processes start), nor are the last 0.2 s.

    python benchmarks/baseline_hub.py [--nodes 50] [--rate 10] [--duration 8]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import signal
import sys
import time
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import zmq

HUB_WAIT_S = 0.005
SETTLE_S = 1.0
TAIL_S = 0.2
RESULT_TIMEOUT_S = 60.0


def log(message: str) -> None:
    print(f"[baseline_hub] {message}", file=sys.stderr, flush=True)


def relay(n: int, ports: Queue[Any], stop_at: float) -> None:
    """Gather the states of a tick and send them on as one batch."""
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub_port = sub.bind_to_random_port("tcp://127.0.0.1", 30000, 32000)
    pub = ctx.socket(zmq.PUB)
    pub_port = pub.bind_to_random_port("tcp://127.0.0.1", 30000, 32000)
    ports.put((sub_port, pub_port))
    rows: list[bytes] = []
    first: float | None = None
    while time.monotonic() < stop_at:
        wait = 0.1 if first is None else max(0.0, first + HUB_WAIT_S - time.monotonic())
        if sub.poll(math.ceil(wait * 1000)):
            while True:
                try:
                    rows.append(sub.recv(zmq.NOBLOCK))
                except zmq.Again:
                    break
                if first is None:
                    first = time.monotonic()
        if (
            rows
            and first is not None
            and (len(rows) >= n or time.monotonic() >= first + HUB_WAIT_S)
        ):
            pub.send(msgpack.packb(rows))
            rows, first = [], None
    ctx.destroy(linger=0)


def node(
    index: int,
    ports: tuple[int, int],
    rate: float,
    t0: float,
    stop_at: float,
    results: Queue[Any],
) -> None:
    """Publish a state a tick, receive the batches, measure the delays."""
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.connect(f"tcp://127.0.0.1:{ports[0]}")
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(f"tcp://127.0.0.1:{ports[1]}")
    period = 1.0 / rate
    due = t0
    seq = 0
    delays: list[float] = []
    measure_from, measure_to = t0 + SETTLE_S, stop_at - TAIL_S
    cpu_from: float | None = None
    wall_from = 0.0
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        if now >= due:
            if cpu_from is None and now >= measure_from:
                usage = resource.getrusage(resource.RUSAGE_SELF)
                cpu_from, wall_from = usage.ru_utime + usage.ru_stime, now
            pub.send(msgpack.packb([index, seq, now, 0.5, 0.3, 0.2, 0.1, 1.4]))
            seq += 1
            due += period
        if sub.poll(math.ceil(max(0.0, due - time.monotonic()) * 1000)):
            while True:
                try:
                    batch = sub.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                received = time.monotonic()
                if not measure_from <= received <= measure_to:
                    continue
                for raw in msgpack.unpackb(batch):
                    state = msgpack.unpackb(raw)
                    if state[0] != index:
                        delays.append(received - state[2])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - (cpu_from or 0.0)
    results.put((delays, cpu / max(time.monotonic() - wall_from, 1e-9)))
    ctx.destroy(linger=0)


def run_hub(n: int, rate: float, duration: float) -> dict[str, Any]:
    """One measurement; every child is reaped by PID, also on failure."""
    context = mp.get_context("fork")
    ports: Queue[Any] = context.Queue()
    results: Queue[Any] = context.Queue()
    start = time.monotonic()
    t0 = math.ceil((start + 2.0) * rate) / rate  # ticks on the shared grid
    stop_at = t0 + duration
    children = [context.Process(target=relay, args=(n, ports, stop_at + 0.5))]
    children[0].start()
    try:
        addresses = ports.get(timeout=RESULT_TIMEOUT_S)
        for i in range(n):
            child = context.Process(
                target=node, args=(i, addresses, rate, t0, stop_at, results)
            )
            child.start()
            children.append(child)
        got = [results.get(timeout=RESULT_TIMEOUT_S + duration) for _ in range(n)]
    finally:
        for child in children:
            child.join(timeout=5.0)
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGKILL)
                child.join()
    delays = np.concatenate([np.asarray(d, dtype=float) for d, _ in got]) * 1e3
    expected_per_node = (n - 1) * rate * (duration - SETTLE_S - TAIL_S)
    return {
        "benchmark": "baseline_hub",
        "n": n,
        "rate_hz": rate,
        "duration_s": duration,
        "samples": int(delays.size),
        "delivered_share": float(delays.size / (n * expected_per_node)),
        "latency_p50_ms": float(np.percentile(delays, 50)) if delays.size else None,
        "latency_p99_ms": float(np.percentile(delays, 99)) if delays.size else None,
        "latency_max_ms": float(delays.max()) if delays.size else None,
        "cpu_pct_mean": 100.0 * float(np.mean([share for _, share in got])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="The hub topology in bare pyzmq + msgpack (no ENTRO-NET): "
        "N node processes and one relay on loopback; prints p50/p99 "
        "publish→receipt delay and CPU per node."
    )
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    if args.nodes < 2 or args.rate <= 0 or args.duration <= SETTLE_S + TAIL_S:
        parser.error("need --nodes >= 2, --rate > 0 and --duration > 1.2")
    log(f"N={args.nodes} at {args.rate:g} Hz for {args.duration:g} s")
    row = run_hub(args.nodes, args.rate, args.duration)
    print(
        f"bare hub N={row['n']} {row['rate_hz']:g} Hz: "
        f"p50 {row['latency_p50_ms']:.2f} ms  p99 {row['latency_p99_ms']:.2f} ms  "
        f"delivered {row['delivered_share']:.3f}  CPU/node {row['cpu_pct_mean']:.2f} %"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(row, indent=2) + "\n")
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
