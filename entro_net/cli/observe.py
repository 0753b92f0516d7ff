"""The observing commands: ``watch``, ``sniff``, ``replay`` and ``report``.

Also the flags that make a coordinator observable (``--record``,
``--metrics-port`` and friends), which ``coordinator`` and ``up`` add with
``add_coordinator_flags``. Heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from entro_net.cli.common import add_log_flags
from entro_net.config import DEFAULT_PORT, NetworkConfig
from entro_net.errors import ConfigError

DEFAULT_REFRESH_HZ = 4.0


def register(commands: Any) -> None:
    """Add the observing commands to the ``entro-net`` parser."""
    _register_watch(commands)
    _register_sniff(commands)
    _register_replay(commands)
    _register_report(commands)


# --- flags for coordinator and up --------------------------------------------


def add_coordinator_flags(parser: argparse.ArgumentParser) -> None:
    """``--record``, ``--record-max-bytes``, ``--record-keep``, ``--metrics-port``."""
    group = parser.add_argument_group("observing")
    group.add_argument(
        "--record",
        default=None,
        metavar="FILE",
        help="append every message the coordinator sees to FILE (survives a "
        "crash; see `entro-net replay` and `entro-net report`)",
    )
    group.add_argument(
        "--record-max-bytes",
        type=int,
        default=None,
        metavar="N",
        help="rotate the recording past N bytes (default 256 MiB)",
    )
    group.add_argument(
        "--record-keep",
        type=int,
        default=None,
        metavar="K",
        help="rotated recording files kept (default 3)",
    )
    group.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="M",
        help="serve Prometheus metrics on http://BIND_HOST:M/metrics (0: a free "
        "port, written to --ready-file)",
    )


def coordinator_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The NetworkConfig fields the observing flags set (unset ones left out)."""
    fields = {
        "record": getattr(args, "record", None),
        "record_max_bytes": getattr(args, "record_max_bytes", None),
        "record_keep": getattr(args, "record_keep", None),
        "metrics_port": getattr(args, "metrics_port", None),
    }
    return {key: value for key, value in fields.items() if value is not None}


# --- shared ------------------------------------------------------------------


def _add_common(parser: argparse.ArgumentParser, *, coordinator: bool) -> None:
    if coordinator:
        parser.add_argument(
            "--coordinator",
            default=None,
            metavar="tcp://HOST:PORT",
            help="the coordinator's control endpoint; its event stream is PORT+1 "
            f"(default tcp://127.0.0.1:{DEFAULT_PORT}, or ENTRO_NET_COORDINATOR)",
        )
        add_curve_client_flags(parser)
    add_log_flags(parser, "warning")


def add_curve_client_flags(parser: argparse.ArgumentParser) -> None:
    """``--curve-secret`` and ``--coordinator-key``: dial a secure network."""
    group = parser.add_argument_group("security (docs/SECURITY.md)")
    group.add_argument(
        "--curve-secret",
        default=None,
        metavar="FILE",
        help="this process's CURVE key pair (a .key_secret file); turns CURVE "
        "on (default: off, or ENTRO_NET_CURVE_SECRET)",
    )
    group.add_argument(
        "--coordinator-key",
        default=None,
        metavar="FILE",
        help="the coordinator's public key (coordinator.key), pinned when "
        "dialling it (or ENTRO_NET_COORDINATOR_KEY)",
    )


def curve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The NetworkConfig fields the security flags set (unset ones left out)."""
    fields = {
        "curve_secret": getattr(args, "curve_secret", None),
        "coordinator_key": getattr(args, "coordinator_key", None),
        "allow": getattr(args, "allow", None),
    }
    return {key: value for key, value in fields.items() if value is not None}


def _setup(args: argparse.Namespace, role: str) -> NetworkConfig:
    from entro_net import logs

    logs.configure(role, level=args.log_level, json=args.log_json)
    coordinator = getattr(args, "coordinator", None)
    fields: dict[str, Any] = curve_settings(args)
    if coordinator:
        fields["coordinator"] = coordinator
    try:
        return NetworkConfig(**fields)
    except ValueError as exc:
        raise ConfigError(f"bad network setting: {exc}") from exc


def _add_view_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plain",
        action="store_true",
        help="a status line every 2 s instead of the live table (the default "
        "when stdout is not a terminal)",
    )
    parser.add_argument(
        "--refresh",
        type=float,
        default=DEFAULT_REFRESH_HZ,
        metavar="HZ",
        help="redraws a second (default %(default)s)",
    )
    parser.add_argument(
        "--save-svg",
        default=None,
        metavar="FILE",
        help="on exit, write the last screen as an SVG picture",
    )


def _is_plain(args: argparse.Namespace) -> bool:
    return bool(args.plain) or not sys.stdout.isatty()


def _positive(value: float | None, flag: str) -> None:
    if value is not None and value <= 0:
        raise ConfigError(f"{flag} must be positive, got {value}")


# --- watch -------------------------------------------------------------------


def _register_watch(commands: Any) -> None:
    parser = commands.add_parser(
        "watch",
        help="live view of a running network: one row per node",
        description="Attach to a running network (any time) and show θ_net, Var, "
        "V_net, the isolation epoch and a Var sparkline above one row per node "
        "(Ψ, δ, weights, state, messages a second, drops, last seen). Survives "
        "the coordinator going away and coming back.",
    )
    _add_common(parser, coordinator=True)
    _add_view_flags(parser)
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (default: until Ctrl-C)",
    )
    parser.set_defaults(handler=_run_watch)


def _run_watch(args: argparse.Namespace) -> int:
    from entro_net.observe.watch import run_watch

    _positive(args.duration, "--duration")
    _positive(args.refresh, "--refresh")
    net = _setup(args, "watch")
    return run_watch(
        net.coordinator,
        net,
        plain=_is_plain(args),
        refresh_hz=args.refresh,
        duration_s=args.duration,
        save_svg=Path(args.save_svg) if args.save_svg else None,
    )


# --- sniff -------------------------------------------------------------------


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--type",
        action="append",
        default=[],
        metavar="TYPE",
        help="keep only these types (repeat or comma-separate: state, heartbeat, "
        "threshold, isolate, readmit, membership, leave, hello, welcome)",
    )
    parser.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="ID",
        help="keep only messages from (or isolating/readmitting) this node; repeat",
    )


def _filter(args: argparse.Namespace) -> Any:
    from entro_net.observe.sniff import Filter, parse_types

    try:
        types = parse_types(args.type)
    except ValueError as exc:
        raise ConfigError(f"--type: {exc}") from exc
    return Filter(types=types, nodes=frozenset(args.node) or None)


def _register_sniff(commands: Any) -> None:
    parser = commands.add_parser(
        "sniff",
        help="every message on the wire, decoded, one JSON object a line",
        description="Listen to the coordinator's event stream and every member's "
        "PUB; print each message as JSON (type, v, node, incarnation, seq, ts and "
        "its fields). Pipe into jq.",
    )
    _add_common(parser, coordinator=True)
    _add_filters(parser)
    parser.add_argument(
        "--count",
        type=int,
        default=None,
        metavar="K",
        help="stop after K messages (exit 1 if --duration ends first)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds",
    )
    parser.set_defaults(handler=_run_sniff)


def _run_sniff(args: argparse.Namespace) -> int:
    from entro_net.observe.sniff import run_sniff

    _positive(args.duration, "--duration")
    if args.count is not None and args.count < 1:
        raise ConfigError(f"--count must be at least 1, got {args.count}")
    keep = _filter(args)
    net = _setup(args, "sniff")
    try:
        return run_sniff(
            net.coordinator,
            net,
            keep,
            count=args.count,
            duration_s=args.duration,
        )
    except BrokenPipeError:
        _quiet_stdout()
        return 0


def _quiet_stdout() -> None:
    """The reader went away (``| head``): send the rest of stdout nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


# --- replay ------------------------------------------------------------------


def _register_replay(commands: Any) -> None:
    parser = commands.add_parser(
        "replay",
        help="play a recording into the live view (or as JSON lines)",
        description="Play a --record file into the same view `watch` shows, at "
        "the recorded pace times --speed (0: as fast as possible), or print its "
        "messages as JSON lines with --json. Reads rotated files oldest first "
        "and stops cleanly at a torn tail (a crash).",
    )
    parser.add_argument("file", metavar="FILE", help="the recording")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="X times the recorded pace; 0 plays as fast as possible "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the recorded messages as JSON lines (like sniff) instead",
    )
    _add_filters(parser)
    _add_view_flags(parser)
    _add_common(parser, coordinator=False)
    parser.set_defaults(handler=_run_replay)


def _run_replay(args: argparse.Namespace) -> int:
    if args.speed < 0:
        raise ConfigError(f"--speed must be 0 or more, got {args.speed}")
    _positive(args.refresh, "--refresh")
    net = _setup(args, "replay")
    if args.json:
        return _replay_json(args, net)
    from entro_net.observe.watch import run_replay

    return run_replay(
        args.file,
        net,
        speed=args.speed,
        plain=_is_plain(args),
        refresh_hz=args.refresh,
        save_svg=Path(args.save_svg) if args.save_svg else None,
    )


def _replay_json(args: argparse.Namespace, net: NetworkConfig) -> int:
    from entro_net.observe.sniff import json_line
    from entro_net.observe.trajectory import decode_records
    from entro_net.recording import read_recording

    keep = _filter(args)
    try:
        for _, msg in decode_records(read_recording(args.file), net.max_message_bytes):
            if msg is not None and keep.keeps(msg):
                sys.stdout.write(json_line(msg) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
    return 0


# --- report ------------------------------------------------------------------


def _register_report(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        help="PNG plots of a recording: Ψ per node, Var and V_net, isolations",
        description="Read a --record file and draw psi.png (Ψ per node with "
        "θ_net and Ψ_critical), var.png (Var and V_net) and isolation.png (an "
        "isolation timeline) into --out, plus report.json.",
    )
    parser.add_argument("file", metavar="FILE", help="the recording")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="where to write the plots"
    )
    parser.add_argument(
        "--clock",
        choices=["free", "lockstep"],
        default=None,
        help="how the run stepped (default: from FILE.meta.json, else free)",
    )
    _add_common(parser, coordinator=False)
    parser.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from entro_net.config import Clock
    from entro_net.observe.report import write_report
    from entro_net.observe.trajectory import load_run

    _setup(args, "report")
    run = load_run(args.file, clock=Clock(args.clock) if args.clock else None)
    for path in write_report(run, Path(args.out)):
        print(path)
    return 0
