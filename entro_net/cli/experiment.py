"""``entro-net experiment``: the seed's scaling sweep and its three objectives.

Thin on purpose: flags become a plan, ``entro_net.sim.experiments``
computes, ``entro_net.sim.report`` writes. numpy, scipy and matplotlib are
imported inside the handlers so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from entro_net.cli.common import (
    OneLineParser,
    add_model_flags,
    check_writable,
    model_config_from_args,
    non_negative_int,
    parse_nodes,
)
from entro_net.config import (
    OBJECTIVE_FAULT_LEVEL,
    OBJECTIVE_FAULT_STEP,
    OBJECTIVE_JOIN_STEP,
    OBJECTIVE_NODES,
    OBJECTIVE_REPEATS,
    OBJECTIVE_STEPS,
    SWEEP_NODES,
    SWEEP_REPEATS,
    SWEEP_STEPS,
    Disturbance,
    Law,
    ModelConfig,
    Source,
)
from entro_net.errors import ConfigError

if TYPE_CHECKING:
    from entro_net.sim.experiments import SourceInputs

Advance = Callable[[str], None]


def register(subparsers: Any) -> None:
    """Add ``experiment sweep`` and ``experiment objectives``."""
    parser = subparsers.add_parser(
        "experiment",
        help="run the seed's scaling sweep or its three objectives",
        description="The seed's experiments (MODEL.md §8), in process.",
    )
    commands = parser.add_subparsers(
        dest="experiment", metavar="EXPERIMENT", parser_class=OneLineParser
    )
    commands.required = True
    _register_sweep(commands)
    _register_objectives(commands)


def _add_run_flags(
    parser: argparse.ArgumentParser, *, steps: int, repeats: int
) -> None:
    parser.add_argument(
        "--steps", type=int, default=steps, help="steps per run (default %(default)s)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=repeats,
        help="repeats per setting, each with its own streams (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="the root seed S >= 0 (default %(default)s)",
    )
    parser.add_argument(
        "--no-plot", action="store_true", help="write the tables but no PNG"
    )
    parser.add_argument(
        "--backend",
        choices=["process", "network"],
        default="process",
        help="process (the in-process simulator) or network (one real "
        "lockstep network of node processes a run) (default %(default)s)",
    )


def _register_sweep(commands: Any) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="Var of the synced values against N, with the seed's fits",
        description="The seed's scaling sweep: every N and repeat as one batch; "
        "a run's figure is the mean Var of the synced values over its last 100 "
        "steps. Writes sweep.json, sweep.csv, sweep.md and sweep.png.",
    )
    sweep.add_argument(
        "--nodes",
        default=SWEEP_NODES,
        help="N: a number, a list (2,3,5) or a range (2-50, 2:50:4) "
        "(default the seed's %(default)s)",
    )
    _add_run_flags(sweep, steps=SWEEP_STEPS, repeats=SWEEP_REPEATS)
    sweep.add_argument(
        "--out",
        type=Path,
        default=Path("results/sweep"),
        help="directory for the results (default %(default)s)",
    )
    sweep.add_argument(
        "--trace-dir",
        type=Path,
        help="with --source trace: one timestamp,value CSV per node, name order",
    )
    add_model_flags(sweep)
    sweep.set_defaults(handler=run_sweep, exit_at_once=True)


def _register_objectives(commands: Any) -> None:
    objectives = commands.add_parser(
        "objectives",
        help="the seed's three objectives for every law, against baselines",
        description="Distributed stability, networked transfer and fault "
        "isolation (MODEL.md §8) for every law, each against the same seeds "
        "with the exchange, transfer or isolation off. The plant's `llm` "
        "disturbance is the default because under `scraper` a healthy plant "
        "crosses Ψ_critical on its own. Writes objectives.json, objectives.md "
        "and one PNG per objective.",
    )
    objectives.add_argument(
        "--nodes",
        type=int,
        default=OBJECTIVE_NODES,
        help="N, at least 3 (default %(default)s)",
    )
    _add_run_flags(objectives, steps=OBJECTIVE_STEPS, repeats=OBJECTIVE_REPEATS)
    objectives.add_argument(
        "--join-step",
        type=int,
        default=OBJECTIVE_JOIN_STEP,
        help="when the late joiner of networked transfer joins (default %(default)s)",
    )
    objectives.add_argument(
        "--fault-step",
        type=int,
        default=OBJECTIVE_FAULT_STEP,
        help="when node 0 turns faulty (default %(default)s)",
    )
    objectives.add_argument(
        "--fault-level",
        type=float,
        default=OBJECTIVE_FAULT_LEVEL,
        help="the faulty node's reading (default %(default)s)",
    )
    objectives.add_argument(
        "--out",
        type=Path,
        default=Path("results/objectives"),
        help="directory for the results (default %(default)s)",
    )
    add_model_flags(objectives)
    for action in objectives._actions:
        if action.dest == "law":
            action.help = "measure one sync law (default: all three)"
    objectives.set_defaults(
        handler=run_objectives,
        source=Source.PLANT.value,
        disturbance=Disturbance.LLM.value,
        law=None,
    )


@contextmanager
def phases(total: int, stream: TextIO | None = None) -> Iterator[Advance]:
    """A progress bar over ``total`` phases, on a terminal only.

    Yields ``advance(description)``: call it as each phase starts. Off a
    terminal it does nothing, so logs and pipes stay clean.
    """
    stream = sys.stderr if stream is None else stream
    if not stream.isatty():
        yield lambda _description: None
        return

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    console = Console(file=stream)
    with Progress(
        *columns, console=console, transient=True, refresh_per_second=4
    ) as bar:
        task = bar.add_task("starting", total=total)
        begun = [False]

        def advance(description: str) -> None:
            if begun[0]:
                bar.advance(task)
            begun[0] = True
            bar.update(task, description=description)

        yield advance
        bar.update(task, completed=total)


def source_inputs(
    config: ModelConfig, trace_dir: Path | None, n_nodes: int
) -> SourceInputs:
    """What the trace or host source needs, read at the edge.

    Raises:
        ConfigError: --trace-dir missing for the trace source, given for
            another, or holding fewer files than nodes.
        SourceError: a trace file that does not parse.
    """
    from entro_net.inputs import load_trace_dir, read_host_psi
    from entro_net.sim.experiments import SourceInputs

    if config.source is not Source.TRACE:
        if trace_dir is not None:
            raise ConfigError("--trace-dir is only read with --source trace")
        if config.source is Source.HOST:
            return SourceInputs(host_reading=read_host_psi)
        return SourceInputs()
    if trace_dir is None:
        raise ConfigError(
            "--source trace needs --trace-dir DIR with one timestamp,value CSV per node"
        )
    series = load_trace_dir(trace_dir)
    if len(series) < n_nodes:
        raise ConfigError(
            f"--trace-dir: {n_nodes} nodes need {n_nodes} CSV files, "
            f"found {len(series)} in {trace_dir}"
        )
    return SourceInputs(traces=[s.psi for s in series], trace_dir=trace_dir)


def run_sweep(args: argparse.Namespace) -> int:
    """``experiment sweep``: simulate, fit, write, print the table."""
    from entro_net.sim import experiments, report
    from entro_net.sim.helpers import Helper

    check_writable({"--out": args.out}, dirs={"--out"})
    config = model_config_from_args(args)
    plan = experiments.SweepPlan(
        config, parse_nodes(args.nodes), args.steps, args.repeats, args.seed
    )
    plan.check()
    experiments.backend_for(args.backend)
    inputs = source_inputs(config, args.trace_dir, max(plan.nodes))

    with (
        phases(3) as advance,
        Helper("fit") as fitter,
        Helper("plot", enabled=not args.no_plot) as plotter,
    ):
        # The helpers were forked at start-up (``main``), or start now;
        # they load scipy and matplotlib while this process simulates.
        advance(f"simulating {len(plan.runs())} runs of {plan.steps} steps")
        result = experiments.simulate_sweep(plan, args.backend, inputs)
        advance("fitting")
        sweep = experiments.summarise_sweep(plan, result, args.backend, fitter.run)
        advance("writing" if args.no_plot else "writing and plotting")
        written = report.write_sweep(
            sweep, args.out, plot=not args.no_plot, run=plotter.run
        )

    print(report.sweep_markdown(sweep), end="")
    print("\nwrote " + ", ".join(str(path) for path in written))
    return 0


def run_objectives(args: argparse.Namespace) -> int:
    """``experiment objectives``: measure every law, write, print the report."""
    from entro_net.sim import experiments, report

    check_writable({"--out": args.out}, dirs={"--out"})
    laws = (
        [Law.SEED, Law.LINEAR, Law.RESILIENT] if args.law is None else [Law(args.law)]
    )
    config = model_config_from_args(
        argparse.Namespace(**{**vars(args), "law": laws[0].value})
    )
    plan = experiments.ObjectivePlan(
        config=config,
        laws=laws,
        nodes=args.nodes,
        steps=args.steps,
        repeats=args.repeats,
        seed=args.seed,
        join_step=args.join_step,
        fault_step=args.fault_step,
        fault_level=args.fault_level,
        backend=args.backend,
    )
    plan.check()

    with phases(experiments.objective_batches(plan) + 1) as advance:
        objectives = experiments.measure_objectives(plan, advance)
        advance("writing" if args.no_plot else "writing and plotting")
        written = report.write_objectives(objectives, args.out, plot=not args.no_plot)

    print(report.objectives_markdown(objectives, plots=False), end="")
    print("\nwrote " + ", ".join(str(path) for path in written))
    return 0
