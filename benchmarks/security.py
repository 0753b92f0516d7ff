"""What CURVE costs: bare PUB/SUB and the real network, with and without it.

1. Bare pyzmq on loopback: one PUB, one SUB, 95-byte frames (a state
   message's size); messages a second pushed through, and the median
   round-trip of a ping-pong, NULL (plaintext) against CURVE.
2. `entro-net up --clock lockstep` (rounds a second, each round waits for
   every peer) and `--clock free --rate 20` (CPU per node), with and
   without `--secure`.

    python benchmarks/security.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import zmq

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from product_free import run_up  # noqa: E402

FRAME = b"S" + bytes(94)
REPEATS = 3


def _pair(
    ctx: zmq.Context[zmq.Socket[bytes]], kinds: tuple[int, int], secure: bool
) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    server, client = ctx.socket(kinds[0]), ctx.socket(kinds[1])
    for sock in (server, client):
        sock.linger = 0
        sock.sndhwm = sock.rcvhwm = 100_000
    if secure:
        server_public, server_secret = zmq.curve_keypair()
        client_public, client_secret = zmq.curve_keypair()
        server.curve_secretkey = server_secret
        server.curve_server = True
        client.curve_publickey = client_public
        client.curve_secretkey = client_secret
        client.curve_serverkey = server_public
    port = server.bind_to_random_port("tcp://127.0.0.1", 20000, 32000)
    client.connect(f"tcp://127.0.0.1:{port}")
    return server, client


def throughput(secure: bool, count: int) -> float:
    """Frames a second from a PUB to a SUB (sent as fast as they go)."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub, sub = _pair(ctx, (zmq.PUB, zmq.SUB), secure)
    sub.subscribe(b"")
    while not sub.poll(10):  # wait for the subscription to land
        pub.send(FRAME)
    while sub.poll(0):
        sub.recv()
    started = time.perf_counter()
    got = 0
    for _ in range(count):
        pub.send(FRAME)
        while sub.poll(0):
            sub.recv()
            got += 1
    while got < count and sub.poll(1000):
        sub.recv()
        got += 1
    rate = got / (time.perf_counter() - started)
    ctx.destroy(0)
    return rate


def round_trip_us(secure: bool, count: int) -> float:
    """Median ping-pong time over DEALER/ROUTER, microseconds."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    router, dealer = _pair(ctx, (zmq.ROUTER, zmq.DEALER), secure)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        dealer.send(FRAME)
        conn, frame = router.recv_multipart()
        router.send_multipart([conn, frame])
        dealer.recv()
        times.append(time.perf_counter() - started)
    ctx.destroy(0)
    return 1e6 * statistics.median(times[count // 10 :])


def network_point(secure: bool, clock: str, nodes: int, steps: int) -> dict[str, Any]:
    flags = ["--nodes", str(nodes), "--clock", clock, "--steps", str(steps)]
    if clock == "free":
        flags += ["--rate", "20"]
    if secure:
        flags.append("--secure")
    summary, wall = run_up(flags, 120.0 + steps * 0.2)
    active = [float(x["active_s"]) for x in summary["nodes"] if x.get("active_s")]
    shares = [
        float(x["cpu_share"])
        for x in summary["nodes"]
        if x.get("cpu_share") is not None
    ]
    window = statistics.median(active) if active else None
    return {
        "secure": secure,
        "clock": clock,
        "nodes": nodes,
        "steps": steps,
        "steps_per_s": steps / window if window else None,
        "cpu_pct_mean": 100.0 * statistics.mean(shares) if shares else None,
        "all_steps": all(x.get("steps") == steps for x in summary["nodes"]),
        "wall_s": round(wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="What CURVE costs.")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    count = 50_000 if args.quick else 200_000
    pings = 2_000 if args.quick else 10_000
    lockstep_steps = 200 if args.quick else 1000
    free_steps = 100 if args.quick else 300

    results: dict[str, Any] = {"bare": {}, "network": []}
    # Alternate plaintext and CURVE, REPEATS times, and keep the medians: the
    # machine is shared, so one run of each says little.
    samples: dict[str, dict[str, list[float]]] = {
        name: {"pub_sub_msgs_per_s": [], "round_trip_us": []}
        for name in ("null", "curve")
    }
    for _ in range(REPEATS):
        for secure in (False, True):
            name = "curve" if secure else "null"
            samples[name]["pub_sub_msgs_per_s"].append(throughput(secure, count))
            samples[name]["round_trip_us"].append(round_trip_us(secure, pings))
    for name, figures in samples.items():
        results["bare"][name] = {
            key: round(statistics.median(values), 1) for key, values in figures.items()
        }
        print(name, results["bare"][name], flush=True)
    for clock, steps in (("lockstep", lockstep_steps), ("free", free_steps)):
        for _ in range(REPEATS if clock == "lockstep" else 1):
            for secure in (False, True):
                row = network_point(secure, clock, 5, steps)
                results["network"].append(row)
                print(row, flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
