"""Run the seed's scaling sweep on the authors' reference package, entro-net 1.0.0.

The reference's own simulator module is empty, so this is our loop over its
classes (PsiSync, CollectiveAEW, NetThreshold, FaultIsolation), in the order of
MODEL.md §2. Its import name is `entro_net`, the same as ours: this script must
run only with the reference's virtual environment python in isolated mode
(`python -I`), which `reference_sweep.py` does. It prints one JSON object on
stdout and progress on stderr; `compute_seconds` covers the model loops only.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import random
import sys
import time
from typing import Any

PSI_TARGET = 0.339
REFERENCE_VERSION = "1.0.0"


def _import_reference() -> tuple[Any, Any, Any, Any]:
    """Import the reference classes, refusing anything but entro-net 1.0.0."""
    version = importlib.metadata.version("entro-net")
    if version != REFERENCE_VERSION:
        raise SystemExit(
            f"expected the reference entro-net=={REFERENCE_VERSION} in this "
            f"environment, found {version}; run me through reference_sweep.py"
        )
    # These modules exist only in the reference's venv, never in our package.
    from entro_net.collective_aew import (  # type: ignore[import-not-found]
        CollectiveAEW,
    )
    from entro_net.fault_isolation import (  # type: ignore[import-not-found]
        FaultIsolation,
    )
    from entro_net.net_threshold import (  # type: ignore[import-not-found]
        NetThreshold,
    )
    from entro_net.psi_sync import PsiSync  # type: ignore[import-not-found]

    return PsiSync, CollectiveAEW, NetThreshold, FaultIsolation


def _population_variance(values: list[float]) -> float:
    if not values:
        return 0.0
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def run_one(
    classes: tuple[Any, Any, Any, Any],
    n: int,
    repeat: int,
    steps: int,
    kappa: float,
    gamma: float,
    beta: float,
    theta_base: float,
) -> float:
    """One run of the scraper source on n nodes; returns var_last100."""
    psi_sync_cls, aew_cls, threshold_cls, isolation_cls = classes
    random.seed(repeat * 101 + n)
    sync = psi_sync_cls(n_nodes=n, kappa=kappa)
    threshold = threshold_cls(theta_base=theta_base, gamma=gamma)
    isolation = isolation_cls()
    learners = [aew_cls(beta=beta) for _ in range(n)]
    readings: list[list[float]] = [[] for _ in range(n)]
    variances: list[float] = []

    for k in range(steps):
        # 1. raw readings of the open-loop scraper source
        base = 0.3 + 0.4 * math.sin(0.05 * k)
        raw = [base + 0.1 * random.random() for _ in range(n)]

        # 2. isolation on the raw readings, reference readmission rule
        for i, r in enumerate(raw):
            isolation.check_node(i, r)
            isolation.recover(i, r)
        active = [i for i in range(n) if not isolation.is_isolated(i)]

        # 3. seed sync law over the nodes that take part; isolated keep s = r.
        # PsiSync has a fixed size, so it is told how many take part.
        synced = list(raw)
        if active:
            sync.n_nodes = len(active)
            out = sync.broadcast([raw[i] for i in active])
            for i, s in zip(active, out, strict=True):
                synced[i] = s
        values = [synced[i] for i in active]
        variances.append(_population_variance(values))

        # 4. threshold (no effect on an open-loop source) and each node's AEW
        threshold.update(values)
        errors = [s - PSI_TARGET for s in values]
        for i in range(n):
            history = readings[i]
            history.append(raw[i])
            if len(history) > 3:
                del history[0]
            d_psi = history[-1] - history[-2] if len(history) >= 2 else 0.0
            d2_psi = (
                history[-1] - 2.0 * history[-2] + history[-3]
                if len(history) >= 3
                else 0.0
            )
            learners[i].step(synced[i], d_psi, d2_psi, errors)

    tail = variances[-100:]
    return sum(tail) / len(tail)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Seed scaling sweep on the reference entro-net 1.0.0 classes. Run it "
            "with the reference venv's python -I; prints JSON on stdout."
        )
    )
    parser.add_argument(
        "--nodes",
        default="2,3,5,8,10,12,15,20,25,30,40,50",
        help="comma-separated node counts",
    )
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--kappa", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=10.0)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--theta-base", type=float, default=1.4)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    node_counts = [int(x) for x in args.nodes.split(",") if x.strip()]
    if args.steps < 100 or args.repeats < 1 or min(node_counts) < 2:
        raise SystemExit("need --steps >= 100, --repeats >= 1 and every N >= 2")
    classes = _import_reference()
    module_file = sys.modules["entro_net.psi_sync"].__file__

    rows: list[dict[str, Any]] = []
    compute_seconds = 0.0
    for n in node_counts:
        start = time.perf_counter()
        runs = [
            run_one(
                classes,
                n,
                repeat,
                args.steps,
                args.kappa,
                args.gamma,
                args.beta,
                args.theta_base,
            )
            for repeat in range(args.repeats)
        ]
        elapsed = time.perf_counter() - start
        compute_seconds += elapsed
        mean = sum(runs) / len(runs)
        squares = sum((r - mean) ** 2 for r in runs)
        # The published table's "±" is the sample standard deviation (n - 1).
        std = math.sqrt(squares / (len(runs) - 1)) if len(runs) > 1 else 0.0
        std_pop = math.sqrt(squares / len(runs))
        rows.append(
            {
                "n": n,
                "mean": mean,
                "std": std,
                "std_pop": std_pop,
                "runs": runs,
                "seconds": elapsed,
            }
        )
        print(
            f"reference N={n:3d} mean={mean:.6f} std={std:.6f} ({elapsed:.2f} s)",
            file=sys.stderr,
            flush=True,
        )

    result = {
        "package": f"entro-net=={REFERENCE_VERSION}",
        "module": module_file,
        "python": sys.version.split()[0],
        "law": "seed",
        "regime": "scraper",
        "kappa": args.kappa,
        "gamma": args.gamma,
        "beta": args.beta,
        "theta_base": args.theta_base,
        "steps": args.steps,
        "repeats": args.repeats,
        "seeds": "random.seed(repeat*101 + N)",
        "rows": rows,
        "compute_seconds": compute_seconds,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
