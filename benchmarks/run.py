"""Every ENTRO-NET benchmark in one go, with one JSON line of headline figures.

Runs, one after another (each bounded in time, each stopping its own
children): product_free.py (the free clock against a bare pyzmq + msgpack
mesh, same points, same run), lockstep.py (rounds a second), scale.py (the
largest N held at 10 Hz) and simulator.py (sparse graph at large N, seed
sweep against the reference package). Their tables stream to stdout, their
JSON goes to --out, and the last line printed is one JSON object with the
headline figures. `--quick` runs a short version of each in under 3 minutes.

    python benchmarks/run.py [--quick] [--out DIR] [--no-reference]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
STOP_GRACE_S = 20.0
DEFAULT_TOPOLOGY = {"product_free": "both", "lockstep": "default", "scale": "hub"}
"""Which topology each part measures unless --topology says otherwise."""

# (name, script, quick timeout s, full timeout s)
PARTS = (
    ("product_free", "product_free.py", 120.0, 1800.0),
    ("lockstep", "lockstep.py", 90.0, 600.0),
    ("scale", "scale.py", 120.0, 1200.0),
    ("simulator", "simulator.py", 120.0, 900.0),
)


def log(message: str) -> None:
    print(f"[run] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "load_avg_at_start": list(load) if load else None,
    }


def run_part(script: str, flags: list[str], timeout_s: float) -> int:
    """Run one benchmark script; its tables pass through. Returns its status."""
    command = [sys.executable, str(BENCH_DIR / script), *flags]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        log(f"{script} took longer than {timeout_s:g} s: stopping it")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 124
    except BaseException:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=STOP_GRACE_S)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short version, < 3 min")
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON files (default: a temp dir)"
    )
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the reference package comparison (needs its venv or PyPI)",
    )
    parser.add_argument(
        "--topology",
        choices=("default", "mesh", "hub"),
        default="default",
        help="one topology for every part (default: product_free both, "
        "lockstep `up`'s default, scale hub)",
    )
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="entro-net-bench-"))
    out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    info = machine()
    log(f"{info['cpus']} CPUs, {info['cpu_model']}, load {info['load_avg_at_start']}")
    statuses: dict[str, int] = {}
    headline: dict[str, Any] = {"quick": args.quick, "machine": info}
    for name, script, quick_timeout, full_timeout in PARTS:
        flags = ["--json", str(out / f"{name}.json")]
        topology = args.topology
        if topology == "default":
            topology = DEFAULT_TOPOLOGY.get(name, "default")
        if name == "simulator":
            flags += ["--no-reference"] if args.no_reference else []
        else:
            flags += ["--topology", topology]
        if args.quick:
            flags.append("--quick")
        log(f"--- {name} ---")
        statuses[name] = run_part(
            script, flags, quick_timeout if args.quick else full_timeout
        )
        result = out / f"{name}.json"
        if result.exists():
            headline[name] = json.loads(result.read_text()).get("headline")
        else:
            headline[name] = None

    headline["exit_status"] = statuses
    headline["seconds"] = round(time.perf_counter() - started, 1)
    headline["json_dir"] = str(out)
    (out / "headline.json").write_text(json.dumps(headline, indent=2) + "\n")
    print(json.dumps(headline))
    return 0 if all(code == 0 for code in statuses.values()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
