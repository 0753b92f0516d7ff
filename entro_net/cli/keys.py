"""``entro-net keys generate DIR``: CURVE key pairs for a secure network.

One pair for the coordinator, one a node, one an observer (watch, sniff),
and the allow list the coordinator reads (docs/SECURITY.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from entro_net.cli.common import positive_int

DEFAULT_NODES = 5
DEFAULT_OBSERVERS = 1


def register(commands: Any) -> None:
    """Add ``keys`` and its subcommands to the ``entro-net`` parser."""
    parser = commands.add_parser(
        "keys",
        help="make CURVE keys for a secure network (docs/SECURITY.md)",
        description="Key pairs for the coordinator, nodes and observers.",
    )
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION")
    sub.required = True
    generate = sub.add_parser(
        "generate",
        help="write key pairs and the allow list into DIR",
        description="Write DIR/coordinator.key(_secret), DIR/node-I.key(_secret), "
        "DIR/observer-J.key(_secret), DIR/allowed/node-I.key and "
        "DIR/allowed/observers/observer-J.key. Existing keys are kept: run it "
        "again with a larger --nodes to add nodes.",
    )
    generate.add_argument("dir", metavar="DIR", help="where to write the keys")
    generate.add_argument(
        "--nodes",
        type=positive_int,
        default=DEFAULT_NODES,
        metavar="N",
        help="node key pairs, node-0 .. node-(N-1) (default %(default)s)",
    )
    generate.add_argument(
        "--observers",
        type=int,
        default=DEFAULT_OBSERVERS,
        metavar="M",
        help="observer key pairs for watch and sniff (default %(default)s)",
    )
    generate.set_defaults(handler=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    from entro_net.security.keys import generate_keys

    base = Path(args.dir)
    created = generate_keys(base, args.nodes, args.observers)
    for path in created:
        print(path)
    kept = "" if created else " (all keys existed; nothing written)"
    print(
        f"keys in {base}{kept}\n"
        f"  coordinator: --curve-secret {base}/coordinator.key_secret "
        f"--allow {base}/allowed\n"
        f"  node I:      --curve-secret {base}/node-I.key_secret "
        f"--coordinator-key {base}/coordinator.key\n"
        f"  watch/sniff: --curve-secret {base}/observer-0.key_secret "
        f"--coordinator-key {base}/coordinator.key\n"
        "Give each machine only its own .key_secret file."
    )
    return 0
