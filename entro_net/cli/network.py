"""The network commands: ``coordinator``, ``node``, ``up`` and ``health``.

Every model flag means what it means in the simulator (``add_model_flags``);
network settings default from ``NetworkConfig`` and ``ENTRO_NET_*``
variables. Heavy imports (zmq, numpy) happen inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from entro_net.cli.common import (
    add_log_flags,
    add_model_flags,
    check_host,
    check_writable,
    model_config_from_args,
    non_negative_int,
    positive_int,
    positive_seconds,
    validation_message,
)
from entro_net.cli.observe import (
    add_coordinator_flags,
    coordinator_settings,
    curve_settings,
)
from entro_net.config import (
    DEFAULT_PORT,
    Clock,
    Launcher,
    ModelConfig,
    NetworkConfig,
    Topology,
)
from entro_net.errors import ConfigError
from entro_net.files import write_text_atomic

EXIT_UNHEALTHY = 1


def register(commands: Any) -> None:
    """Add the network commands to the ``entro-net`` parser."""
    _register_coordinator(commands)
    _register_node(commands)
    _register_up(commands)
    _register_health(commands)


# --- shared flags ------------------------------------------------------------


def _add_network_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("network")
    group.add_argument(
        "--clock",
        choices=[c.value for c in Clock],
        default=None,
        help="lockstep rounds or each node at its own rate (default: free, "
        "or ENTRO_NET_CLOCK)",
    )
    group.add_argument(
        "--topology",
        choices=[t.value for t in Topology],
        default=None,
        help="mesh: every node dials every peer; hub: the coordinator relays "
        "each tick's states to all in one batch on port P+2 (coordinator and "
        "nodes must agree; default mesh, for `up` hub; or ENTRO_NET_TOPOLOGY)",
    )
    group.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="HZ",
        help="steps a second of the free clock (default 20)",
    )
    group.add_argument(
        "--staleness",
        type=float,
        default=None,
        metavar="S",
        dest="staleness_s",
        help="free clock: ignore peer readings older than this (default 1.0)",
    )
    group.add_argument(
        "--lockstep-wait",
        type=float,
        default=None,
        metavar="S",
        dest="lockstep_wait_s",
        help="lockstep: longest wait for a silent peer's reading (default 2.0)",
    )
    _add_failure_flags(parser)
    add_log_flags(group, "info")


def _add_failure_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("failure detection (docs/FAULTS.md)")
    group.add_argument(
        "--heartbeat-interval",
        type=float,
        default=None,
        metavar="S",
        dest="heartbeat_interval_s",
        help="seconds between a node's heartbeats (default 0.5)",
    )
    group.add_argument(
        "--suspect-after",
        type=int,
        default=None,
        metavar="K",
        help="missed heartbeats before a member is suspect (default 3)",
    )
    group.add_argument(
        "--dead-after",
        type=int,
        default=None,
        metavar="K",
        help="missed heartbeats before a member is dead, and before a node "
        "gives the coordinator up and dials it afresh (default 8)",
    )
    group.add_argument(
        "--rejoin-backoff-max",
        type=float,
        default=None,
        metavar="S",
        dest="rejoin_backoff_max_s",
        help="longest pause between a node's hellos (default 5.0)",
    )


def _add_security_flags(parser: argparse.ArgumentParser, *, dials: bool) -> None:
    group = parser.add_argument_group("security (docs/SECURITY.md)")
    group.add_argument(
        "--curve-secret",
        default=None,
        metavar="FILE",
        help="this process's CURVE key pair (a .key_secret file of `entro-net "
        "keys generate`); turns encryption and the allow list on (default: "
        "off, or ENTRO_NET_CURVE_SECRET)",
    )
    if dials:
        group.add_argument(
            "--coordinator-key",
            default=None,
            metavar="FILE",
            help="the coordinator's public key (coordinator.key), pinned when "
            "dialling it (or ENTRO_NET_COORDINATOR_KEY)",
        )
    group.add_argument(
        "--allow",
        default=None,
        metavar="DIR",
        help="public keys let in: DIR/*.key may join (and listen), "
        "DIR/observers/*.key may listen (watch, sniff); read again when an "
        "unknown key knocks (or ENTRO_NET_ALLOW)"
        + ("" if dials else "; required with --curve-secret"),
    )


def _network_config(args: argparse.Namespace, **extra: Any) -> NetworkConfig:
    fields = {
        "clock": getattr(args, "clock", None),
        "rate": getattr(args, "rate", None),
        "staleness_s": getattr(args, "staleness_s", None),
        "lockstep_wait_s": getattr(args, "lockstep_wait_s", None),
        "topology": getattr(args, "topology", None),
        "heartbeat_interval_s": getattr(args, "heartbeat_interval_s", None),
        "suspect_after": getattr(args, "suspect_after", None),
        "dead_after": getattr(args, "dead_after", None),
        "rejoin_backoff_max_s": getattr(args, "rejoin_backoff_max_s", None),
        **curve_settings(args),
        **extra,
    }
    try:
        return NetworkConfig(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(validation_message(exc)) from exc


def _write_json(path: str, data: dict[str, Any]) -> None:
    write_text_atomic(Path(path), json.dumps(data, indent=1))


def _model_config(args: argparse.Namespace) -> ModelConfig:
    text = getattr(args, "model_json", None)
    if text:
        try:
            return ModelConfig.model_validate_json(text)
        except ValueError as exc:
            raise ConfigError(f"--model-json: {exc}") from exc
    return model_config_from_args(args)


# --- coordinator -------------------------------------------------------------


def _register_coordinator(commands: Any) -> None:
    parser = commands.add_parser(
        "coordinator",
        help="run the coordinator: membership, θ_net, isolation, telemetry",
        description="Bind the control socket on --port and the event stream on "
        "--port + 1; nodes are given tcp://HOST:PORT.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="control port P (events on P+1; 0 picks free ports; "
        f"default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--bind-host",
        default=None,
        help="address to bind (default 0.0.0.0: every interface, for containers "
        "and other machines; 127.0.0.1 keeps it on this host)",
    )
    parser.add_argument(
        "--advertise", default=None, help="host clients dial, written to --ready-file"
    )
    parser.add_argument(
        "--ready-file",
        default=None,
        metavar="F",
        help="write the endpoints as JSON once listening",
    )
    parser.add_argument(
        "--expect",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="hold every node until N joined (default: no hold)",
    )
    parser.add_argument(
        "--summary-json",
        default=None,
        metavar="FILE",
        help="write the network's figures here on exit",
    )
    parser.add_argument(
        "--state-file",
        default=None,
        metavar="FILE",
        help="keep membership, θ_net and the isolation epochs in FILE, and go "
        "on from it after a restart (default: none, or ENTRO_NET_STATE_FILE)",
    )
    _add_network_flags(parser)
    _add_security_flags(parser, dials=False)
    add_coordinator_flags(parser)
    add_model_flags(parser)
    parser.add_argument("--model-json", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=_run_coordinator)


def _run_coordinator(args: argparse.Namespace) -> int:
    from entro_net import logs
    from entro_net.coordinator.core import CoordinatorCore
    from entro_net.coordinator.server import CoordinatorServer
    from entro_net.node.process import StopFlag

    logs.configure(
        "coordinator", "coordinator", level=args.log_level, json=args.log_json
    )
    check_host("--advertise", args.advertise)
    _check_outputs(args)
    model = _model_config(args)
    net = _network_config(
        args,
        port=args.port,
        bind_host=args.bind_host,
        state_file=args.state_file,
        **coordinator_settings(args),
    )
    core = CoordinatorCore(
        model,
        net,
        net.clock,
        time.monotonic(),
        expect=args.expect,
        incarnation=time.time_ns() // 1_000_000,
    )
    advertise = args.advertise or (
        "127.0.0.1" if net.bind_host in ("0.0.0.0", "*") else net.bind_host
    )
    server = CoordinatorServer(
        core, net, host=net.bind_host, port=net.port, advertise=advertise
    )
    from entro_net.observe.record import Observers, attach

    observers = Observers()
    stop = StopFlag()
    stop.install()
    try:
        observers = attach(
            server, core, net, bind_host=net.bind_host, advertise=advertise
        )
        if args.ready_file:
            _write_json(args.ready_file, {**server.endpoints, "pid": os.getpid()})
        import structlog

        structlog.get_logger().info("coordinator_listening", **server.endpoints)
        server.run(lambda: stop.reason is not None)
    finally:
        if args.summary_json:
            from entro_net.coordinator.summary import network_summary

            _write_json(args.summary_json, network_summary(core, server))
        observers.close()
        server.close()
    return 0


# --- node --------------------------------------------------------------------


def _register_node(commands: Any) -> None:
    parser = commands.add_parser(
        "node",
        help="run one node: its sources, sync and weights, over ZeroMQ",
        description="Join the coordinator at --coordinator tcp://HOST:PORT.",
    )
    parser.add_argument(
        "--coordinator",
        default=None,
        metavar="tcp://HOST:PORT",
        help="the coordinator's control endpoint "
        f"(default tcp://127.0.0.1:{DEFAULT_PORT})",
    )
    parser.add_argument(
        "--advertise",
        default=None,
        metavar="HOST",
        help="the host peers dial to reach this node",
    )
    parser.add_argument(
        "--bind-host",
        default=None,
        help="address the node's PUB binds (default 0.0.0.0: every interface, "
        "for containers and other machines; 127.0.0.1 keeps it on this host)",
    )
    parser.add_argument(
        "--node-port",
        type=int,
        default=None,
        help="port of the node's PUB (default: a free one)",
    )
    parser.add_argument(
        "--node-id",
        default=None,
        help="the node's id (default: host name + random suffix)",
    )
    parser.add_argument(
        "--index",
        type=non_negative_int,
        default=None,
        help="the node's index (default: the coordinator's choice)",
    )
    parser.add_argument(
        "--network-size",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="N in the node's random streams (MODEL.md §7)",
    )
    parser.add_argument("--repeat", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed S >= 0 (default 0)"
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="leave after this many steps (default: run on)",
    )
    parser.add_argument(
        "--trace",
        default=None,
        metavar="CSV",
        help="the node's timestamp,value series (--source trace)",
    )
    parser.add_argument(
        "--summary-json",
        default=None,
        metavar="FILE",
        help="write the node's final figures here on exit",
    )
    parser.add_argument(
        "--trajectory",
        default=None,
        metavar="CSV",
        help="write the node's per-step Ψ and weights here",
    )
    _add_network_flags(parser)
    _add_security_flags(parser, dials=True)
    add_model_flags(parser)
    parser.add_argument("--model-json", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=_run_node)


def _run_node(args: argparse.Namespace) -> int:
    from entro_net.node.launch import run_node

    check_host("--advertise", args.advertise)
    check_writable(
        {"--summary-json": args.summary_json, "--trajectory": args.trajectory},
        dirs=set(),
    )
    return run_node(
        args,
        _model_config(args),
        _network_config(
            args,
            coordinator=args.coordinator,
            advertise=args.advertise,
            bind_host=args.bind_host,
            node_port=args.node_port,
            node_id=args.node_id,
        ),
    )


# --- up ----------------------------------------------------------------------


def _register_up(commands: Any) -> None:
    parser = commands.add_parser(
        "up",
        help="start a coordinator and N node processes on this machine",
        description="Start the coordinator (in this process) and N node "
        "processes on loopback, show their status, stop on Ctrl-C or after "
        "--steps, and print a summary.",
    )
    parser.add_argument(
        "--nodes",
        type=int,
        default=None,
        metavar="N",
        help="node processes (default 5, or one per --trace-dir CSV)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="steps to run (default: until Ctrl-C, or the longest trace)",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed S >= 0 (default 0)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="control port P (events on P+1; 0 picks free ports)",
    )
    parser.add_argument(
        "--ready-file",
        default=None,
        metavar="F",
        help="write the coordinator's endpoints as JSON once listening",
    )
    parser.add_argument(
        "--trace-dir",
        default=None,
        metavar="DIR",
        help="give each node one CSV of DIR (--source trace)",
    )
    parser.add_argument(
        "--summary-json",
        default=None,
        metavar="FILE",
        help="write the final figures as JSON",
    )
    parser.add_argument(
        "--trajectory-dir",
        default=None,
        metavar="DIR",
        help="write each node's per-step trajectory CSV into DIR",
    )
    parser.add_argument(
        "--log-dir",
        default=None,
        metavar="DIR",
        help="keep each process's log in DIR (default: a temp dir)",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="periodic progress lines even on a terminal",
    )
    parser.add_argument(
        "--launcher",
        choices=[launcher.value for launcher in Launcher],
        default=None,
        help="fork: import once and fork each node (fast); spawn: a fresh "
        "interpreter per node (default fork, or ENTRO_NET_LAUNCHER)",
    )
    parser.add_argument(
        "--secure",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="run the network with CURVE encryption and an allow list; keys "
        "from DIR (made or completed as `entro-net keys generate DIR` would), "
        "else fresh ones in a temporary directory (see docs/SECURITY.md)",
    )
    _add_network_flags(parser)
    add_coordinator_flags(parser)
    add_model_flags(parser)
    parser.add_argument("--model-json", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--late", default=None, help=argparse.SUPPRESS)
    # up's console shows its own progress: its log starts at warnings.
    parser.set_defaults(handler=_run_up, log_level="warning")


def _check_outputs(args: argparse.Namespace) -> None:
    """Every file or directory the run will write, checked before it starts."""
    check_writable(
        {
            flag: getattr(args, flag[2:].replace("-", "_"), None)
            for flag in (
                "--summary-json",
                "--ready-file",
                "--state-file",
                "--record",
                "--trajectory-dir",
                "--log-dir",
            )
        },
        dirs={"--trajectory-dir", "--log-dir"},
    )


def _run_up(args: argparse.Namespace) -> int:
    from entro_net.coordinator.up import run_up

    _check_outputs(args)
    model = _model_config(args)
    net = _network_config(
        args,
        port=args.port,
        bind_host="127.0.0.1",
        launcher=args.launcher,
        **coordinator_settings(args),
    )
    if args.topology is None and "ENTRO_NET_TOPOLOGY" not in os.environ:
        # One machine: the hub measures best (README, Performance).
        net = net.model_copy(update={"topology": net.up_topology})
    return run_up(args, model, net)


# --- health ------------------------------------------------------------------


def _register_health(commands: Any) -> None:
    parser = commands.add_parser(
        "health",
        help="exit 0 when the local node (if any) or coordinator answers",
        description="Exit 0 when a node or the coordinator answers, 1 when "
        "not (a container's health check). Without --node or --port it checks "
        "the nodes of this host's processes, else the coordinator.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the coordinator's host (default %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"the coordinator's control port (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--node",
        default=None,
        metavar="tcp://HOST:PORT",
        help="check a node instead: wait for a message on its PUB",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=None,
        help="seconds to wait for an answer (default 2)",
    )
    parser.set_defaults(handler=_run_health)


def _run_health(args: argparse.Namespace) -> int:
    from entro_net.coordinator.health import (
        check_coordinator,
        check_node,
        check_nodes,
        local_node_endpoints,
    )
    from entro_net.protocol.messages import is_valid_endpoint

    if args.port == 0:
        raise ConfigError("--port 0 picks a free port; give the port to check")
    if args.node and not is_valid_endpoint(args.node):
        raise ConfigError(f"--node: {args.node!r} is not tcp://HOST:PORT")
    check_host("--host", args.host)
    net = _network_config(args, port=args.port)
    timeout = args.timeout if args.timeout is not None else net.health_timeout_s
    local_nodes = [] if args.node or args.port else local_node_endpoints()
    if args.node:
        what = f"node {args.node}"
        healthy = check_node(args.node, timeout, net)
    elif local_nodes:
        what = "local node " + ", ".join(local_nodes)
        healthy = check_nodes(local_nodes, timeout, net)
    else:
        what = f"coordinator tcp://{args.host}:{net.port}"
        healthy = check_coordinator(f"tcp://{args.host}:{net.port}", timeout, net)
    verdict = "healthy" if healthy else f"no answer within {timeout:g} s"
    print(f"{what}: {verdict}", file=sys.stderr)
    return 0 if healthy else EXIT_UNHEALTHY
