"""The in-process simulator: very large N over a sparse peer graph, and the
seed's sweep against the authors' reference package.

1. `entro-net experiment sweep --law linear --degree 8 --nodes N --steps 800
   --repeats 1` for N = 1,000 and 10,000 (and 100,000 in the full run): the
   sweep's own compute seconds and the whole command's wall seconds. The
   target is N = 10,000 with k = 8 in under 10 s.
2. The seed's sweep (N = 2..50, 800 steps, 4 repeats, seed law) on the
   reference package in its own venv and with our command, alternating,
   through benchmarks/reference_sweep.py: in-process compute ratio (target
   100x) and whole-command wall ratio (target 10x).

    python benchmarks/simulator.py [--quick] [--json FILE] [--no-reference]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import reference_sweep  # noqa: E402
from product_free import child_env  # noqa: E402

SPARSE_DEGREE = 8
SPARSE_STEPS = 800
SPARSE_NODES = (1_000, 10_000, 100_000)
QUICK_SPARSE_NODES = (1_000, 10_000)
SPARSE_TARGET_S = 10.0
RUN_TIMEOUT_S = 600.0
OURS = f"{shlex.quote(sys.executable)} -m entro_net"


def log(message: str) -> None:
    print(f"[simulator] {message}", file=sys.stderr, flush=True)


def sparse_point(n: int) -> dict[str, Any]:
    """One sparse-graph run of N nodes: compute and wall seconds, Var.

    Raises:
        RuntimeError: the command failed.
    """
    with tempfile.TemporaryDirectory(prefix="entro-net-sim-") as tmp:
        command = [sys.executable, "-m", "entro_net", "experiment", "sweep"]
        command += ["--law", "linear", "--degree", str(SPARSE_DEGREE)]
        command += ["--nodes", str(n), "--steps", str(SPARSE_STEPS)]
        command += ["--repeats", "1", "--no-plot", "--out", tmp]
        started = time.perf_counter()
        done = subprocess.run(
            command,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"sparse N={n} failed: {done.stderr[-800:]}")
        sweep = json.loads((Path(tmp) / "sweep.json").read_text())
    return {
        "n": n,
        "degree": SPARSE_DEGREE,
        "steps": SPARSE_STEPS,
        "compute_s": float(sweep["compute_seconds"]),
        "wall_s": wall,
        "var_last100": float(sweep["rows"][0]["mean"]),
        "node_steps_per_s": n * SPARSE_STEPS / float(sweep["compute_seconds"]),
    }


def reference_part(rounds: int) -> dict[str, Any]:
    """The seed's sweep on the reference and ours, alternating; the ratios."""
    python = reference_sweep.ensure_reference_venv(reference_sweep.DEFAULT_VENV)
    result = reference_sweep.measure(
        python, OURS, reference_sweep.DEFAULT_NODES, rounds
    )
    timing = result["timing"]
    return {
        "rounds": rounds,
        "reference_compute_s": timing["reference_compute_s"],
        "ours_compute_s": timing.get("ours_compute_s"),
        "compute_ratio": timing.get("compute_ratio"),
        "reference_wall_s": timing["reference_wall_s"],
        "ours_wall_s": timing.get("ours_wall_s"),
        "wall_ratio": timing.get("wall_ratio"),
        "ours_command": result["ours_command"],
        "ours_error": result["ours_error"],
        "published_check": reference_sweep.check_published(result["reference"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Simulator speed: sparse graph at large N, and the seed's "
        "sweep against the reference package."
    )
    parser.add_argument("--quick", action="store_true", help="N up to 10,000; 1 round")
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the reference comparison"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)

    failed = False
    sparse: list[dict[str, Any]] = []
    print(
        f"{'N':>8} {'k':>3} {'steps':>6} {'compute s':>10} {'wall s':>8} "
        f"{'node-steps/s':>13}"
    )
    for n in QUICK_SPARSE_NODES if args.quick else SPARSE_NODES:
        log(f"sparse graph N={n}")
        try:
            row = sparse_point(n)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log(f"FAILED: {exc}")
            failed = True
            sparse.append({"n": n, "error": str(exc)})
            continue
        sparse.append(row)
        print(
            f"{n:>8} {row['degree']:>3} {row['steps']:>6} {row['compute_s']:>10.2f} "
            f"{row['wall_s']:>8.2f} {row['node_steps_per_s']:>13.3g}",
            flush=True,
        )

    reference: dict[str, Any] | None = None
    if not args.no_reference:
        log("seed sweep: reference package vs ours")
        try:
            reference = reference_part(1 if args.quick else 3)
        except (reference_sweep.BenchError, subprocess.TimeoutExpired) as exc:
            log(f"reference comparison FAILED: {exc}")
            reference = {"error": str(exc)}
            failed = True
        else:
            print(
                "seed sweep: reference compute "
                f"{reference['reference_compute_s']:.3f} s, "
                f"ours {reference['ours_compute_s'] or float('nan'):.4f} s "
                f"(x{reference['compute_ratio'] or float('nan'):.0f}); whole command "
                f"reference {reference['reference_wall_s']:.2f} s, ours "
                f"{reference['ours_wall_s'] or float('nan'):.2f} s "
                f"(x{reference['wall_ratio'] or float('nan'):.1f})",
                flush=True,
            )

    ten_k = next((r for r in sparse if r.get("n") == 10_000 and "error" not in r), None)
    headline: dict[str, Any] = {
        "sparse_10k_k8_800_wall_s": ten_k["wall_s"] if ten_k else None,
        "sparse_10k_k8_800_compute_s": ten_k["compute_s"] if ten_k else None,
        "sparse_10k_under_10s": bool(ten_k and ten_k["wall_s"] < SPARSE_TARGET_S),
    }
    if reference and "error" not in reference:
        headline["seed_sweep_compute_ratio"] = reference["compute_ratio"]
        headline["seed_sweep_wall_ratio"] = reference["wall_ratio"]
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "benchmark": "simulator",
            "sparse": sparse,
            "reference": reference,
            "headline": headline,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        log(f"results written to {args.json}")
    print(json.dumps(headline))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
