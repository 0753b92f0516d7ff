"""Side-by-side benchmark: the authors' reference package against our sweep.

The reference, `entro-net==1.0.0` from PyPI, shares our import name
`entro_net`, so it lives in a virtual environment of its own (default
benchmarks/.ref-venv, git-ignored) and runs only through
benchmarks/_reference_driver.py under that venv's `python -I`. This script
creates or reuses that venv, runs the seed's scaling sweep (MODEL.md §8) on the
reference and with our `entro-net experiment sweep`, checks the reference
against its published table, and measures in-process compute time and whole
process wall time of both, alternating the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import curve_fit

BENCH_DIR = Path(__file__).resolve().parent
DRIVER = BENCH_DIR / "_reference_driver.py"
DEFAULT_VENV = BENCH_DIR / ".ref-venv"
REFERENCE_PIN = "entro-net==1.0.0"
REFERENCE_VERSION = "1.0.0"
DEFAULT_NODES = "2,3,5,8,10,12,15,20,25,30,40,50"
STEPS = 800
REPEATS = 4
# The reference's own published table (MODEL.md §8): N -> (mean, sample std).
PUBLISHED = {
    20: (0.165380, 0.002169),
    30: (0.197713, 0.002204),
    50: (0.221481, 0.000677),
}
PUBLISHED_FITS = {
    "linear_n_le_15": {"slope": 0.0101, "intercept": -0.0331, "r2": 0.986},
    "saturation": {"sigma2_max": 0.228, "n0": 16.2, "r2": 0.992, "rmse": 0.004},
}
TARGET_COMPUTE_RATIO = 100.0
TARGET_WALL_RATIO = 10.0
PIP_TIMEOUT_S = 600.0
RUN_TIMEOUT_S = 900.0
EXIT_REFERENCE_MISMATCH = 1
EXIT_OURS_MISSING = 3


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and what to do."""


def log(message: str) -> None:
    print(f"[reference_sweep] {message}", file=sys.stderr, flush=True)


def _clean_env() -> dict[str, str]:
    """Environment for the reference: nothing may point it at our package."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _installed_reference_version(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = "import importlib.metadata as m; print(m.version('entro-net'))"
    done = subprocess.run(
        [str(python), "-I", "-c", probe],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_reference_venv(venv: Path) -> Path:
    """Create or reuse the reference's venv; returns its python.

    Raises:
        BenchError: the venv could not be created or the install failed.
    """
    python = _venv_python(venv)
    if _installed_reference_version(python) == REFERENCE_VERSION:
        log(f"reusing reference venv {venv}")
        return python

    if not python.exists():
        log(f"creating reference venv {venv}")
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(venv)],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
            check=False,
        )
        if made.returncode != 0:
            raise BenchError(
                f"could not create the venv at {venv}: {made.stderr.strip()}; "
                "remove the directory or pass --venv elsewhere"
            )
    log(f"installing {REFERENCE_PIN} into {venv}")
    pip = subprocess.run(
        [str(python), "-I", "-m", "pip", "install", "--quiet", REFERENCE_PIN],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=PIP_TIMEOUT_S,
        check=False,
    )
    if _installed_reference_version(python) != REFERENCE_VERSION:
        raise BenchError(
            f"pip could not install {REFERENCE_PIN} into {venv}: "
            f"{pip.stderr.strip()[-800:]}; check network/index access or "
            "delete the venv and retry"
        )
    return python


def run_reference(python: Path, nodes: str) -> tuple[dict[str, Any], float]:
    """Run the driver once; returns its JSON and the process wall seconds."""
    command = [str(python), "-I", str(DRIVER), "--nodes", nodes]
    command += ["--steps", str(STEPS), "--repeats", str(REPEATS)]
    command += ["--kappa", "1", "--gamma", "10", "--beta", "1", "--theta-base", "1.4"]
    start = time.perf_counter()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchError(
            f"the reference driver failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-800:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout)
    return result, wall


def ours_command(entro_net: str, nodes: str, out_dir: Path) -> list[str]:
    return [
        *shlex.split(entro_net),
        "experiment",
        "sweep",
        "--law",
        "seed",
        "--kappa",
        "1",
        "--gamma",
        "10",
        "--beta",
        "1",
        "--nodes",
        nodes,
        "--steps",
        str(STEPS),
        "--repeats",
        str(REPEATS),
        "--regime",
        "scraper",
        "--out",
        str(out_dir),
    ]


def run_ours(entro_net: str, nodes: str) -> tuple[dict[str, Any], float, list[str]]:
    """Run our sweep command once; returns sweep.json, wall seconds, command.

    Raises:
        BenchError: the command failed or wrote no readable sweep.json.
    """
    with tempfile.TemporaryDirectory(prefix="entro-net-sweep-") as tmp:
        out_dir = Path(tmp) / "out"
        command = ours_command(entro_net, nodes, out_dir)
        start = time.perf_counter()
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise BenchError(
                f"our sweep failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-800:]}"
            )
        sweep_file = out_dir / "sweep.json"
        try:
            sweep: dict[str, Any] = json.loads(sweep_file.read_text())
        except (OSError, ValueError) as exc:
            raise BenchError(
                f"our sweep wrote no readable {sweep_file}: {exc}"
            ) from exc
    if "compute_seconds" not in sweep or "rows" not in sweep:
        raise BenchError("our sweep.json lacks compute_seconds or rows")
    return sweep, wall, command


def _row_n(row: dict[str, Any]) -> int:
    for key in ("n", "nodes", "N"):
        if key in row:
            return int(row[key])
    raise BenchError(f"a row of our sweep.json has no node count: {row}")


def _row_std(row: dict[str, Any]) -> float | None:
    value = row.get("std")
    return float(value) if value is not None else None


def check_published(reference: dict[str, Any]) -> list[dict[str, Any]]:
    """Compare the reference run with its published table, N by N."""
    by_n = {int(row["n"]): row for row in reference["rows"]}
    checks = []
    for n, (mean, std) in PUBLISHED.items():
        row = by_n.get(n)
        if row is None:
            continue
        diff = float(row["mean"]) - mean
        checks.append(
            {
                "n": n,
                "published_mean": mean,
                "published_std": std,
                "mean": row["mean"],
                "std": row["std"],
                "diff": diff,
                "within_published_std": abs(diff) <= std,
                "matches_6_digits": round(float(row["mean"]), 6) == mean,
            }
        )
    return checks


def compare_ours(
    reference: dict[str, Any], ours: dict[str, Any]
) -> list[dict[str, Any]]:
    """Ours against the reference, N by N: our random streams differ (MODEL.md
    §7), so the match is statistical; z is the difference over its standard
    error from both sides' sample standard deviations."""
    ours_by_n = {_row_n(r): r for r in ours["rows"]}
    rows = []
    for row in reference["rows"]:
        mine = ours_by_n.get(int(row["n"]))
        if mine is None:
            continue
        diff = float(mine["mean"]) - float(row["mean"])
        std = _row_std(mine)
        error = (
            ((float(row["std"]) ** 2 + std**2) / REPEATS) ** 0.5
            if std is not None
            else None
        )
        rows.append(
            {
                "n": int(row["n"]),
                "reference_mean": row["mean"],
                "ours_mean": float(mine["mean"]),
                "diff": diff,
                "z": diff / error if error else None,
            }
        )
    return rows


def fit_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The seed's two fits recomputed on a table (linear N ≤ 15, saturation)."""
    n = np.array([float(r["n"]) for r in rows])
    mean = np.array([float(r["mean"]) for r in rows])

    def r2(y: np.ndarray, p: np.ndarray) -> float:
        return float(1.0 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum())

    fits: dict[str, Any] = {}
    low = n <= 15
    if low.sum() >= 3:
        slope, intercept = np.polyfit(n[low], mean[low], 1)
        pred = slope * n[low] + intercept
        fits["linear_n_le_15"] = {
            "slope": float(slope),
            "intercept": float(intercept),
            "r2": r2(mean[low], pred),
        }
    if len(n) >= 3:

        def saturation(x: np.ndarray, top: float, n0: float) -> np.ndarray:
            return top * (1.0 - np.exp(-x / n0))

        try:
            (top, n0), _ = curve_fit(saturation, n, mean, p0=(0.23, 15.0), maxfev=10000)
        except RuntimeError:
            return fits
        pred = saturation(n, top, n0)
        fits["saturation"] = {
            "sigma2_max": float(top),
            "n0": float(n0),
            "r2": r2(mean, pred),
            "rmse": float(np.sqrt(((mean - pred) ** 2).mean())),
        }
    return fits


def print_tables(
    reference: dict[str, Any], ours: dict[str, Any] | None, fits: dict[str, Any]
) -> None:
    ours_by_n = {_row_n(r): r for r in ours["rows"]} if ours else {}
    print()
    print("Seed scaling sweep, scraper, seed law, κ=1, γ=10, β=1, 800 steps, 4 repeats")
    print(f"{'N':>4}  {'reference mean ± std':>24}  {'published':>22}  {'ours':>24}")
    for row in reference["rows"]:
        n = int(row["n"])
        ref = f"{row['mean']:.6f} ± {row['std']:.6f}"
        pub = PUBLISHED.get(n)
        pub_text = f"{pub[0]:.6f} ± {pub[1]:.6f}" if pub else ""
        mine = ours_by_n.get(n)
        if mine is None:
            mine_text = "-"
        else:
            std = _row_std(mine)
            std_text = f" ± {std:.6f}" if std is not None else ""
            mine_text = f"{float(mine['mean']):.6f}{std_text}"
        print(f"{n:>4}  {ref:>24}  {pub_text:>22}  {mine_text:>24}")
    print("(± is the sample standard deviation over the repeats, as published)")
    for name, fit in fits.items():
        published = PUBLISHED_FITS[name]
        mine = ", ".join(f"{k}={v:.4g}" for k, v in fit.items())
        theirs = ", ".join(f"{k}={v:.4g}" for k, v in published.items())
        print(f"fit {name} on the reference table: {mine}  (published: {theirs})")


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def print_timing(timing: dict[str, Any]) -> None:
    print()
    print(f"{'':28}{'reference':>14}{'ours':>14}{'ratio':>10}{'target':>9}")
    for key, label, target in (
        ("compute", "in-process compute (median)", TARGET_COMPUTE_RATIO),
        ("wall", "whole process wall (median)", TARGET_WALL_RATIO),
    ):
        ref = timing[f"reference_{key}_s"]
        ours = timing.get(f"ours_{key}_s")
        ratio = timing.get(f"{key}_ratio")
        ours_text = f"{ours:12.4f} s" if ours is not None else f"{'missing':>14}"
        ratio_text = f"{ratio:9.1f}x" if ratio is not None else f"{'-':>10}"
        target_text = f"≥{target:.0f}x"
        print(f"{label:28}{ref:12.4f} s{ours_text}{ratio_text}{target_text:>9}")


def measure(
    python: Path, entro_net: str | None, nodes: str, rounds: int
) -> dict[str, Any]:
    """Alternate reference and our runs; medians and ratios of both timings."""
    ref_compute: list[float] = []
    ref_wall: list[float] = []
    ours_compute: list[float] = []
    ours_wall: list[float] = []
    reference: dict[str, Any] | None = None
    ours: dict[str, Any] | None = None
    ours_cmd: list[str] | None = None
    ours_error: str | None = None if entro_net else "`entro-net` is not on PATH"
    reference_stable = True

    for index in range(rounds):
        # Alternate which side goes first so that drift in machine load
        # does not always favour one of them.
        order = ("ref", "ours") if index % 2 == 0 else ("ours", "ref")
        for side in order:
            if side == "ref":
                log(f"round {index + 1}/{rounds}: reference")
                result, wall = run_reference(python, nodes)
                if reference is None:
                    reference = result
                elif [r["mean"] for r in result["rows"]] != [
                    r["mean"] for r in reference["rows"]
                ]:
                    reference_stable = False
                ref_compute.append(float(result["compute_seconds"]))
                ref_wall.append(wall)
            elif entro_net and ours_error is None:
                log(f"round {index + 1}/{rounds}: ours")
                try:
                    sweep, wall, ours_cmd = run_ours(entro_net, nodes)
                except (BenchError, subprocess.TimeoutExpired) as exc:
                    ours_error = str(exc)
                    log(f"OURS FAILED: {ours_error}")
                    continue
                ours = ours if ours is not None else sweep
                ours_compute.append(float(sweep["compute_seconds"]))
                ours_wall.append(wall)

    assert reference is not None
    timing: dict[str, Any] = {
        "rounds": rounds,
        "reference_compute_runs_s": ref_compute,
        "reference_wall_runs_s": ref_wall,
        "reference_compute_s": statistics.median(ref_compute),
        "reference_wall_s": statistics.median(ref_wall),
        "reference_deterministic": reference_stable,
    }
    if ours_compute:
        timing.update(
            {
                "ours_compute_runs_s": ours_compute,
                "ours_wall_runs_s": ours_wall,
                "ours_compute_s": statistics.median(ours_compute),
                "ours_wall_s": statistics.median(ours_wall),
            }
        )
        timing["compute_ratio"] = _ratio(
            timing["reference_compute_s"], timing["ours_compute_s"]
        )
        timing["wall_ratio"] = _ratio(timing["reference_wall_s"], timing["ours_wall_s"])
    return {
        "reference": reference,
        "ours": ours,
        "ours_command": ours_cmd,
        "ours_error": ours_error if not ours_compute else None,
        "timing": timing,
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Run the seed's scaling sweep (scraper source, seed law, κ=1, γ=10, "
            "β=1, 800 steps, 4 repeats) on the authors' reference package "
            f"{REFERENCE_PIN} and with our `entro-net experiment sweep`, check the "
            "reference against its published table (N=20, 30, 50), and compare "
            "in-process compute time (target ours ≥100x faster) and whole "
            "process wall time (target ≥10x), alternating the runs and taking "
            "medians. The reference runs only inside its own venv (same import "
            "name as ours). Exit status: 0 done, 1 the reference did not "
            "reproduce its table, 3 our command is missing or failed (the "
            "reference part still runs and is reported)."
        )
    )
    parser.add_argument(
        "--venv",
        type=Path,
        default=DEFAULT_VENV,
        help=f"the reference's virtual environment, created if needed "
        f"(default {DEFAULT_VENV})",
    )
    parser.add_argument(
        "--nodes",
        default=DEFAULT_NODES,
        help=f"comma-separated node counts (default {DEFAULT_NODES})",
    )
    parser.add_argument(
        "--repeats-timing",
        type=int,
        default=3,
        metavar="K",
        help="alternating timing rounds, each runs both commands (default 3)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="one timing round instead of K"
    )
    parser.add_argument(
        "--reference-only",
        action="store_true",
        help="run only the reference once and write its table (no timing)",
    )
    parser.add_argument(
        "--entro-net",
        default=None,
        metavar="CMD",
        help="our command, may be several words such as 'python -m "
        "entro_net.cli.main' (default: `entro-net` found on PATH)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="JSON results file (default: a new temporary directory, printed)",
    )
    return parser.parse_args(argv)


def _write(out: Path | None, payload: dict[str, Any]) -> Path:
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="entro-net-bench-")) / "reference_sweep.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.repeats_timing < 1:
        raise SystemExit("--repeats-timing must be at least 1")
    python = ensure_reference_venv(args.venv.resolve())
    payload: dict[str, Any] = {
        "benchmark": "reference_sweep",
        "reference_package": REFERENCE_PIN,
        "nodes": args.nodes,
        "steps": STEPS,
        "repeats": REPEATS,
    }

    if args.reference_only:
        log("running the reference sweep once")
        reference, wall = run_reference(python, args.nodes)
        payload.update({"reference": reference, "reference_wall_s": wall})
        ours = None
        exit_code = 0
    else:
        entro_net = args.entro_net or shutil.which("entro-net")
        rounds = 1 if args.quick else args.repeats_timing
        payload.update(measure(python, entro_net, args.nodes, rounds))
        reference = payload["reference"]
        ours = payload["ours"]
        exit_code = EXIT_OURS_MISSING if payload["ours_error"] else 0

    checks = check_published(reference)
    fits = fit_table(reference["rows"])
    payload["published_check"] = checks
    payload["reference_fits"] = fits
    if ours is not None:
        payload["ours_vs_reference"] = compare_ours(reference, ours)
        payload["ours_fits_recomputed"] = fit_table(
            [{"n": _row_n(r), "mean": r["mean"]} for r in ours["rows"]]
        )

    print_tables(reference, ours, fits)
    for check in checks:
        verdict = "OFF"
        if check["within_published_std"]:
            verdict = "exact to 6 digits" if check["matches_6_digits"] else "ok"
        print(
            f"published check N={check['n']}: reference {check['mean']:.6f} vs "
            f"{check['published_mean']:.6f} (diff {check['diff']:+.6f}) {verdict}"
        )
    if not all(c["within_published_std"] for c in checks):
        exit_code = EXIT_REFERENCE_MISMATCH
    if not args.reference_only:
        print_timing(payload["timing"])
        if payload["ours_error"]:
            print(f"\nOURS MISSING OR FAILED: {payload['ours_error']}")
            print(
                "Only the reference part ran. Install ours (pip install -e .) "
                "or pass --entro-net CMD."
            )
        elif payload["ours_command"]:
            print("\nours: " + " ".join(payload["ours_command"]))

    out = _write(args.out, payload)
    print(f"\nresults written to {out}")
    return exit_code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        log(f"error: {exc}")
        sys.exit(2)
