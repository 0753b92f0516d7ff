"""ENTRO-NET's free clock against a bare pyzmq + msgpack mesh, point by point.

For each (N, rate) the real product runs (`entro-net up --clock free`, a
coordinator and N node processes on loopback, fixed number of steps) and,
right after it in the same run, the baseline of benchmarks/baseline_mesh.py
with the same N, rate and duration. The product's figures come from the
nodes' own measurements (merged by `up --summary-json`): delivered peer
states a second, loss (gaps in the peers' sequence numbers), publish→receipt
delay p50/p99 (CLOCK_MONOTONIC, shared by the processes of one host), CPU
share and peak RSS per node, and the time from `up`'s start until every node
steps. The delay percentiles that the bounds judge are the steady ones, from
a second after each node heard every peer until it leaves, the window the
baseline measures after its ready barrier; `p99all` is the whole run, every
node's start-up and leaving included. Both sides are compared as ratios
measured minutes apart on the same machine, never against numbers from
another run.

    python benchmarks/product_free.py [--quick] [--nodes 5,10,20,50]
        [--rates 10,20,50,100] [--duration 5] [--topology mesh|hub|default]
        [--no-baseline] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from baseline_mesh import MeshError, run_mesh  # noqa: E402

QUICK_POINTS = ((20, 50.0), (50, 10.0))
QUICK_DURATION_S = 3.0
LOSS_BOUND_PCT = 0.1
P99_BOUND_MS = 20.0
TIMEOUT_BASE_S = 60.0
STOP_GRACE_S = 15.0


def log(message: str) -> None:
    print(f"[product_free] {message}", file=sys.stderr, flush=True)


def child_env() -> dict[str, str]:
    """This environment with this checkout first on the import path."""
    env = dict(os.environ)
    paths = [str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(":") if p]]
    env["PYTHONPATH"] = ":".join(dict.fromkeys(paths))
    env.pop("ENTRO_NET_PORT", None)
    return env


def run_up(flags: list[str], timeout_s: float) -> tuple[dict[str, Any], float]:
    """Run `entro-net up FLAGS` to its end; its summary and wall seconds.

    The command gets SIGTERM at the timeout (then SIGKILL); its nodes die
    with it (they get SIGTERM when `up` goes).

    Raises:
        RuntimeError: it failed, timed out or wrote no summary.
    """
    with tempfile.TemporaryDirectory(prefix="entro-net-bench-") as tmp:
        summary = Path(tmp) / "summary.json"
        command = [sys.executable, "-m", "entro_net", "up", "--port", "0", "--plain"]
        command += ["--summary-json", str(summary), "--log-dir", str(Path(tmp))]
        command += ["--log-level", "warning", *flags]
        started = time.perf_counter()
        with (Path(tmp) / "up.out").open("wb") as out:
            proc = subprocess.Popen(
                command,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                code = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                raise RuntimeError(f"`up {' '.join(flags)}` timed out") from None
            except BaseException:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_GRACE_S)
                raise
        wall = time.perf_counter() - started
        tail = (Path(tmp) / "up.out").read_text(errors="replace")[-1500:]
        if code != 0 or not summary.exists():
            raise RuntimeError(f"`up {' '.join(flags)}` exit {code}: {tail}")
        data: dict[str, Any] = json.loads(summary.read_text())
    return data, wall


def product_point(
    n: int, rate: float, duration: float, topology: str | None
) -> dict[str, Any]:
    """Run the product's free clock at one point; its figures."""
    steps = max(1, round(rate * duration))
    flags = ["--nodes", str(n), "--clock", "free", "--rate", f"{rate:g}"]
    flags += ["--steps", str(steps)]
    if topology:
        flags += ["--topology", topology]
    summary, wall = run_up(flags, TIMEOUT_BASE_S + 4 * duration + 0.5 * n)
    return product_figures(summary, n, rate, steps, wall, topology)


def product_figures(
    summary: dict[str, Any],
    n: int,
    rate: float,
    steps: int,
    wall: float,
    topology: str | None,
) -> dict[str, Any]:
    """The figures of one product run from its `up` summary."""
    nodes = summary["nodes"]
    traffic = summary["traffic"]
    active = [float(x["active_s"]) for x in nodes if x.get("active_s")]
    shares = [float(x["cpu_share"]) for x in nodes if x.get("cpu_share") is not None]
    rss = [float(x["rss_peak_mb"]) for x in nodes if x.get("rss_peak_mb")]
    pss = [float(x["memory"]["pss_mb"]) for x in nodes if x.get("memory")]
    whole_run = all(
        x.get("exit_code") == 0
        and x.get("steps") == steps
        and x.get("leave_reason") == "steps_done"
        for x in nodes
    )
    received = int(traffic["states_received"] or 0)
    ideal = n * (n - 1) * steps
    window = statistics.median(active) if active else float("nan")
    return {
        "side": "product",
        "topology": topology or summary.get("topology") or "default",
        "n": n,
        "rate_hz": rate,
        "steps": steps,
        "wall_s": wall,
        "delivered_per_s": received / window if active else None,
        "delivered_share": received / ideal if ideal else None,
        "loss_pct": traffic["loss_pct"],
        # Steady: from a second after each node heard every peer until it
        # left, the window the bare mesh is measured in (after its ready
        # barrier). The whole run adds every node's start-up and leaving.
        "latency_p50_ms": traffic["steady_latency_p50_ms"],
        "latency_p99_ms": traffic["steady_latency_p99_ms"],
        "whole_run_p50_ms": traffic["latency_p50_ms"],
        "whole_run_p99_ms": traffic["latency_p99_ms"],
        "latency_max_ms": traffic["latency_max_ms"],
        "cpu_pct_mean": 100.0 * statistics.mean(shares) if shares else None,
        "cpu_pct_max": 100.0 * max(shares) if shares else None,
        "rss_peak_mb_max": max(rss) if rss else None,
        "rss_peak_mb_mean": statistics.mean(rss) if rss else None,
        "pss_mb_mean": statistics.mean(pss) if pss else None,
        "all_active_s": summary["startup"]["all_active_s"],
        "all_active_since_process_start_s": summary["startup"].get(
            "all_active_since_process_start_s"
        ),
        "launcher": summary["startup"].get("launcher"),
        "every_node_whole_run": whole_run,
        "coordinator_states_seen": summary["coordinator"]["states_seen"],
    }


def baseline_point(n: int, rate: float, duration: float) -> dict[str, Any]:
    """The bare pyzmq + msgpack mesh at one point, in the product's terms."""
    row = run_mesh(n, rate, duration, "mesh")
    return {
        "side": "baseline",
        "topology": "bare-mesh",
        "n": n,
        "rate_hz": rate,
        "delivered_per_s": row["received"] / duration,
        "delivered_share": row["received"] / row["expected"]
        if row["expected"]
        else None,
        "loss_pct": row["loss_pct"],
        "latency_p50_ms": row["latency_p50_ms"],
        "latency_p99_ms": row["latency_p99_ms"],
        "latency_max_ms": row["latency_max_ms"],
        "cpu_pct_mean": row["node_cpu_pct_mean"],
        "rss_peak_mb_max": row["node_rss_peak_mb_max"],
        "rss_peak_mb_mean": row["node_rss_peak_mb_mean"],
    }


def meets_bounds(row: dict[str, Any]) -> bool:
    """Loss under 0.1 %, p99 under 20 ms, every node active all the run."""
    p99 = row.get("latency_p99_ms")
    return (
        row.get("loss_pct") is not None
        and row["loss_pct"] < LOSS_BOUND_PCT
        and p99 is not None
        and p99 < P99_BOUND_MS
        and bool(row.get("every_node_whole_run", True))
    )


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


HEADER = (
    f"{'side':>9} {'topology':>9} {'N':>4} {'Hz':>4} {'deliv/s':>9} {'share':>6} "
    f"{'loss%':>6} {'p50ms':>6} {'p99ms':>7} {'p99all':>7} {'cpu%':>6} {'rssMB':>6} "
    f"{'active s':>8} {'ok':>3}"
)


def format_row(row: dict[str, Any]) -> str:
    """One table line."""
    if "error" in row:
        return (
            f"{row['side']:>9} {row.get('topology', ''):>9} {row['n']:>4} "
            f"{row['rate_hz']:>4g} FAILED: {row['error'][:100]}"
        )
    return (
        f"{row['side']:>9} {row['topology']:>9} {row['n']:>4} {row['rate_hz']:>4g} "
        f"{_fmt(row['delivered_per_s'], '9.0f')} "
        f"{_fmt(row['delivered_share'], '6.3f')} {_fmt(row['loss_pct'], '6.3f')} "
        f"{_fmt(row['latency_p50_ms'], '6.2f')} {_fmt(row['latency_p99_ms'], '7.2f')} "
        f"{_fmt(row.get('whole_run_p99_ms'), '7.2f')} "
        f"{_fmt(row['cpu_pct_mean'], '6.1f')} {_fmt(row['rss_peak_mb_max'], '6.1f')} "
        f"{_fmt(row.get('all_active_s'), '8.2f')} "
        f"{'yes' if meets_bounds(row) else 'no':>3}"
    )


def measure(
    points: list[tuple[int, float]],
    duration: float,
    topologies: list[str | None],
    baseline: bool,
) -> list[dict[str, Any]]:
    """Product (each topology) then baseline at each point; prints each row."""
    rows: list[dict[str, Any]] = []
    print(HEADER, flush=True)
    for n, rate in points:
        sides = [("product", topo) for topo in topologies]
        sides += [("baseline", None)] if baseline else []
        mine: list[dict[str, Any]] = []
        bare: dict[str, Any] | None = None
        for side, topo in sides:
            log(f"{side} N={n} rate={rate:g} Hz for {duration:g} s")
            try:
                if side == "product":
                    row = product_point(n, rate, duration, topo)
                else:
                    row = baseline_point(n, rate, duration)
            except (RuntimeError, MeshError, OSError) as exc:
                row = {"side": side, "n": n, "rate_hz": rate, "error": str(exc)}
                row["topology"] = topo or (
                    "bare-mesh" if side == "baseline" else "default"
                )
                log(f"FAILED: {exc}")
            if side == "product":
                mine.append(row)
            else:
                bare = row
            rows.append(row)
            print(format_row(row), flush=True)
        for row in mine:
            if bare and "error" not in row and "error" not in bare:
                if row["cpu_pct_mean"] and bare["cpu_pct_mean"]:
                    row["cpu_vs_baseline"] = row["cpu_pct_mean"] / bare["cpu_pct_mean"]
                row["baseline"] = {k: bare[k] for k in bare if k != "side"}
    return rows


def _numbers(text: str, kind: type[int] | type[float]) -> list[Any]:
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise SystemExit(f"expected comma-separated numbers, got {text!r}") from exc


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="ENTRO-NET's free clock vs a bare pyzmq + msgpack mesh, "
        "same N, rate and duration, in the same run. Prints a table and "
        "writes JSON. Every child is stopped by PID."
    )
    parser.add_argument("--nodes", default="5,10,20,50", help="default 5,10,20,50")
    parser.add_argument("--rates", default="10,20,50,100", help="default 10,20,50,100")
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds a point (default 5)"
    )
    parser.add_argument(
        "--topology",
        choices=("default", "mesh", "hub", "both"),
        default="default",
        help="the product's topology; both: mesh and hub at every point "
        "(default: whatever `up` defaults to)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="run only the product"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"only N=20 at 50 Hz and N=50 at 10 Hz, {QUICK_DURATION_S:g} s each",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="FILE")
    return parser.parse_args(argv)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Headline figures of a grid, per topology: the target points, the cost
    ratios, peak RSS and start-up time."""
    labels = sorted({r["topology"] for r in rows if r["side"] == "product"})
    return {label: summarize_one(rows, label) for label in labels}


def summarize_one(rows: list[dict[str, Any]], topology: str) -> dict[str, Any]:
    """Headline figures of one topology's rows."""
    mine = {
        (r["n"], r["rate_hz"]): r
        for r in rows
        if r["side"] == "product" and "error" not in r and r["topology"] == topology
    }
    out: dict[str, Any] = {}
    for (n, rate), key in (((20, 50.0), "n20_50hz"), ((50, 10.0), "n50_10hz")):
        row = mine.get((n, rate))
        if row is None:
            continue
        out[key] = {
            "loss_pct": row["loss_pct"],
            "p99_ms": row["latency_p99_ms"],
            "p99_whole_run_ms": row.get("whole_run_p99_ms"),
            "cpu_pct": row["cpu_pct_mean"],
            "cpu_vs_baseline": row.get("cpu_vs_baseline"),
            "baseline_p99_ms": row.get("baseline", {}).get("latency_p99_ms"),
            "meets_bounds": meets_bounds(row),
        }
    peaks = [r["rss_peak_mb_max"] for r in mine.values() if r["rss_peak_mb_max"]]
    out["rss_peak_mb_max"] = max(peaks) if peaks else None
    starts = [
        r["all_active_s"] for (n, _), r in mine.items() if n == 20 and r["all_active_s"]
    ]
    out["n20_all_active_s"] = max(starts) if starts else None
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        points = [(n, r) for n, r in QUICK_POINTS]
        duration = QUICK_DURATION_S
    else:
        points = [
            (n, r)
            for n in _numbers(args.nodes, int)
            for r in _numbers(args.rates, float)
        ]
        duration = args.duration
    topologies: list[str | None] = [args.topology]
    if args.topology == "default":
        topologies = [None]
    elif args.topology == "both":
        topologies = ["mesh", "hub"]
    rows = measure(points, duration, topologies, not args.no_baseline)
    payload = {
        "benchmark": "product_free",
        "duration_s": duration,
        "rows": rows,
        "headline": summarize(rows),
    }
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        log(f"results written to {args.json}")
    print(json.dumps(payload["headline"]))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; children were stopped")
        sys.exit(130)
