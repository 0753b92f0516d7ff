"""Lockstep throughput of the real network: rounds a second for N node processes.

Each point runs `entro-net up --clock lockstep --nodes N --steps K` on
loopback and divides K by the nodes' median stepping time (from their first
round to their last, as each node measured it), so start-up is not counted.
Every round waits for every peer's reading, so this is the network's
round-trip pace, not a rate it is asked to keep.

    python benchmarks/lockstep.py [--quick] [--nodes 5,20,50] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from product_free import run_up  # noqa: E402

STEPS = {5: 400, 20: 200, 50: 100}
QUICK_STEPS = {5: 100, 20: 60, 50: 30}
DEFAULT_STEPS = 100
TIMEOUT_BASE_S = 60.0


def log(message: str) -> None:
    print(f"[lockstep] {message}", file=sys.stderr, flush=True)


def lockstep_point(n: int, steps: int, topology: str | None) -> dict[str, Any]:
    """Run K lockstep rounds with N nodes; rounds a second and the summary's."""
    flags = ["--nodes", str(n), "--clock", "lockstep", "--steps", str(steps)]
    if topology:
        flags += ["--topology", topology]
    summary, wall = run_up(flags, TIMEOUT_BASE_S + 0.2 * steps + n)
    nodes = summary["nodes"]
    active = [float(x["active_s"]) for x in nodes if x.get("active_s")]
    shares = [float(x["cpu_share"]) for x in nodes if x.get("cpu_share") is not None]
    window = statistics.median(active) if active else None
    return {
        "n": n,
        "steps": steps,
        "topology": topology or "default",
        "steps_per_s": steps / window if window else None,
        "wall_s": wall,
        "all_active_s": summary["startup"]["all_active_s"],
        "cpu_pct_mean": 100.0 * statistics.mean(shares) if shares else None,
        "every_node_all_steps": all(x.get("steps") == steps for x in nodes),
        "latency_p99_ms": summary["traffic"]["latency_p99_ms"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Lockstep rounds a second for N real node processes."
    )
    parser.add_argument("--nodes", default="5,20,50", help="default 5,20,50")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument(
        "--topology", choices=("default", "mesh", "hub"), default="default"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    table = QUICK_STEPS if args.quick else STEPS
    topology = None if args.topology == "default" else args.topology

    rows: list[dict[str, Any]] = []
    print(f"{'N':>4} {'steps':>6} {'steps/s':>8} {'cpu%':>6} {'start s':>8} {'ok':>3}")
    for n in [int(x) for x in args.nodes.split(",") if x.strip()]:
        steps = table.get(n, DEFAULT_STEPS)
        log(f"N={n}, {steps} rounds")
        try:
            row = lockstep_point(n, steps, topology)
        except (RuntimeError, OSError) as exc:
            log(f"FAILED: {exc}")
            row = {"n": n, "steps": steps, "error": str(exc)}
            print(f"{n:>4} {steps:>6} FAILED: {str(exc)[:100]}", flush=True)
        else:
            print(
                f"{n:>4} {steps:>6} {row['steps_per_s'] or 0:>8.1f} "
                f"{row['cpu_pct_mean'] or 0:>6.1f} {row['all_active_s'] or 0:>8.2f} "
                f"{'yes' if row['every_node_all_steps'] else 'no':>3}",
                flush=True,
            )
        rows.append(row)

    headline = {
        f"n{r['n']}_steps_per_s": r.get("steps_per_s") for r in rows if "error" not in r
    }
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"benchmark": "lockstep", "rows": rows, "headline": headline}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        log(f"results written to {args.json}")
    print(json.dumps(headline))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
