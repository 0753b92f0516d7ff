"""The largest network the free clock holds at 10 Hz on this machine.

Runs `entro-net up --clock free --rate 10` for growing N (one topology) and
stops at the first N that breaks a bound: loss under 0.1 %, p99 publish→
receipt delay under 20 ms, every node active for the whole run. Reports the
largest N that held, with each point's figures.

    python benchmarks/scale.py [--quick] [--topology hub] [--nodes 50,100,...]
        [--duration 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from product_free import (  # noqa: E402
    HEADER,
    format_row,
    meets_bounds,
    product_point,
)

RATE_HZ = 10.0
NODES = "10,20,30,40,50,60,75,100,125,150,200,250,300"
QUICK_NODES = "20,30,50"
QUICK_DURATION_S = 3.0


def log(message: str) -> None:
    print(f"[scale] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Largest N the free clock holds at 10 Hz within loss < 0.1 %, "
        "p99 < 20 ms and every node active."
    )
    parser.add_argument("--nodes", default=None, help=f"ascending (default {NODES})")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds a point")
    parser.add_argument(
        "--topology", choices=("default", "mesh", "hub"), default="default"
    )
    parser.add_argument("--quick", action="store_true", help=f"N={QUICK_NODES}, 3 s")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    nodes_text = args.nodes or (QUICK_NODES if args.quick else NODES)
    duration = QUICK_DURATION_S if args.quick else args.duration
    topology = None if args.topology == "default" else args.topology

    rows: list[dict[str, Any]] = []
    largest: int | None = None
    print(HEADER, flush=True)
    for n in sorted(int(x) for x in nodes_text.split(",") if x.strip()):
        log(f"N={n} at {RATE_HZ:g} Hz for {duration:g} s ({args.topology})")
        try:
            row = product_point(n, RATE_HZ, duration, topology)
        except (RuntimeError, OSError) as exc:
            log(f"FAILED: {exc}")
            rows.append(
                {"side": "product", "n": n, "rate_hz": RATE_HZ, "error": str(exc)}
            )
            break
        rows.append(row)
        print(format_row(row), flush=True)
        if not meets_bounds(row):
            break
        largest = n

    headline = {"largest_n_at_10hz": largest, "topology": args.topology}
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"benchmark": "scale", "rows": rows, "headline": headline}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        log(f"results written to {args.json}")
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
