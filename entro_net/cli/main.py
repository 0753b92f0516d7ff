"""The ``entro-net`` command: one parser, a subcommand per job.

Each command group lives in its own module with a ``register`` function;
heavy imports happen inside the handlers so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from entro_net.cli.common import OneLineParser
from entro_net.errors import EntroNetError

COMMAND_MODULES = ("experiment", "network", "observe", "keys")

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every command group that is installed."""
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
    stderr and status 2; Ctrl-C ends with status 130.
    """
    try:
        args = build_parser().parse_args(argv)
        status: int = args.handler(args)
    except EntroNetError as exc:
        print(f"entro-net: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("entro-net: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
