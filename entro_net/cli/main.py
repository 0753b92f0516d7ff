"""The ``entro-net`` command: one parser, a subcommand per job.

Each command group lives in its own module with a ``register`` function;
heavy imports happen inside the handlers so ``--help`` stays fast. A command
that will draw (``experiment sweep``) starts its helper processes first of
all, so scipy and matplotlib load there while this process loads the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from entro_net.errors import EntroNetError

if TYPE_CHECKING:
    from entro_net.sim.helpers import Kind

COMMAND_MODULES = ("experiment", "network", "observe", "keys")

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a piped command


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every command group that is installed."""
    from entro_net.cli.common import OneLineParser

    parser = OneLineParser(
        prog="entro-net",
        description="ENTRO-NET: nodes that share a stability state Ψ over ZeroMQ.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name in COMMAND_MODULES:
        qualified = f"entro_net.cli.{name}"
        if importlib.util.find_spec(qualified) is None:
            continue
        importlib.import_module(qualified).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status.

    Expected errors (bad flags, bad files, bad config) end with one line on
    stderr and status 2; a file or stream that cannot be read or written (a
    full disk) with one line and status 1; a reader that went away (``| head``)
    ends it quietly with status 141; Ctrl-C ends with status 130.
    """
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        kinds = helpers_for(words)
        if kinds:
            # The helpers are forked with numpy loaded once, here.
            import numpy  # noqa: F401

            from entro_net.sim.helpers import prestart

            prestart(*kinds)
        args = build_parser().parse_args(words)
        status: int = args.handler(args)
        if argv is None and status == 0 and getattr(args, "exit_at_once", False):
            exit_at_once(status)
    except EntroNetError as exc:
        print(f"entro-net: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("entro-net: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if argv is None:
            # Nobody reads our stdout any more: no more output, no noise at
            # exit when Python flushes it.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        with contextlib.suppress(OSError, ValueError):
            print(f"entro-net: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if "entro_net.sim.helpers" in sys.modules:
            sys.modules["entro_net.sim.helpers"].discard_prestarted()
    return status


def exit_at_once(status: int) -> None:
    """End the process now, skipping the interpreter's teardown.

    For a command whose work is all written and closed (``experiment
    sweep``): tearing down numpy and scipy takes 50–70 ms, a tenth of the
    command. Only from the console script (``argv`` None), never from a
    caller in the same process.
    """
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None: started with the stream closed
            stream.flush()
    if "entro_net.sim.helpers" in sys.modules:
        sys.modules["entro_net.sim.helpers"].discard_prestarted()
    os._exit(status)


def helpers_for(words: Sequence[str]) -> tuple[Kind, ...]:
    """The helper processes the command line will use (a guess from the
    words alone: a wrong one costs an idle process or a later start)."""
    if words[:2] != ["experiment", "sweep"] or {"-h", "--help"} & set(words):
        return ()
    return ("fit",) if "--no-plot" in words else ("fit", "plot")


if __name__ == "__main__":
    sys.exit(main())
