"""Putting a node process together from its flags: identity, source, sockets."""

from __future__ import annotations

import argparse
import socket
import time
from pathlib import Path

import structlog
import zmq

from entro_net import logs
from entro_net.config import ModelConfig, NetworkConfig, Source
from entro_net.errors import ConfigError
from entro_net.node.core import CONFIG_MISMATCH, NodeCore, NodeSettings
from entro_net.node.process import (
    NodeProcess,
    StopFlag,
    advertised_host,
    default_node_id,
    split_endpoint,
    write_history,
    write_summary,
)
from entro_net.node.source import NodeSource
from entro_net.protocol import is_valid_node_id
from entro_net.security.curve import Role
from entro_net.security.guard import Guard


def _source_factory(
    args: argparse.Namespace, model: ModelConfig
) -> tuple[object, object]:
    trace = None
    host_reading = None
    if model.source is Source.TRACE:
        if not args.trace:
            raise ConfigError("--source trace needs --trace FILE (timestamp,value CSV)")
        from entro_net.inputs import load_trace

        trace = load_trace(args.trace).psi
    if model.source is Source.HOST:
        from entro_net.inputs import read_host_psi

        host_reading = read_host_psi
    return trace, host_reading


def _warn_if_unresolved(host: str, endpoint: str) -> None:
    # ZeroMQ resolves the name again at every reconnect, so the node goes on
    # and joins once the name resolves; the core warns while nobody answers.
    try:
        socket.getaddrinfo(host, None)
    except OSError as exc:
        structlog.get_logger().warning(
            "coordinator_unresolved",
            coordinator=endpoint,
            error=str(exc),
            hint="retrying; check the host name or give --coordinator tcp://IP:PORT",
        )


def run_node(args: argparse.Namespace, model: ModelConfig, net: NetworkConfig) -> int:
    """Run one node until it is done or told to stop; returns the exit status.

    Raises:
        ConfigError: a bad id, endpoint, port or trace.
    """
    node_id = net.node_id or default_node_id()
    if not is_valid_node_id(node_id):
        raise ConfigError(
            f"--node-id {node_id!r}: use 1-64 letters, digits and . _ : @ -, "
            "starting with a letter or digit"
        )
    logs.configure(
        "node", node_id, level=args.log_level, json=getattr(args, "log_json", None)
    )
    log = structlog.get_logger()
    coordinator_host, _ = split_endpoint(net.coordinator)
    _warn_if_unresolved(coordinator_host, net.coordinator)
    trace, host_reading = _source_factory(args, model)

    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        guard = Guard(ctx, net, Role.NODE)  # before the PUB binds
    except ConfigError:
        ctx.term()
        raise
    pub, port = NodeProcess.bind_pub(ctx, net, net.bind_host, guard)
    host = net.advertise or advertised_host(net.bind_host, coordinator_host)
    settings = NodeSettings(
        node_id=node_id,
        incarnation=time.time_ns() // 1_000_000,
        endpoint=f"tcp://{host}:{port}",
        index=args.index,
        clock=net.clock,
        rate_hz=net.rate,
        steps=args.steps,
        seed=args.seed,
        network_size=args.network_size,
        repeat=args.repeat,
        record=args.trajectory is not None,
    )

    def make_source(index: int) -> NodeSource:
        return NodeSource(
            model,
            seed=settings.seed,
            network_size=settings.network_size,
            repeat=settings.repeat,
            index=index,
            trace=trace,  # type: ignore[arg-type]
            host_reading=host_reading,  # type: ignore[arg-type]
        )

    core = NodeCore(model, net, settings, make_source, time.monotonic())
    process = NodeProcess(
        core, net, coordinator=net.coordinator, pub=pub, ctx=ctx, guard=guard
    )
    stop = StopFlag()
    stop.install()
    log.info(
        "node_listening",
        endpoint=settings.endpoint,
        coordinator=net.coordinator,
        clock=net.clock.value,
        index=settings.index,
        secure=guard.is_secure,
    )
    try:
        process.run(stop)
    finally:
        figures = process.summary()
        process.close()
        if args.summary_json:
            write_summary(Path(args.summary_json), figures)
        if args.trajectory:
            write_history(Path(args.trajectory), core.history)
        log.info("node_stopped", reason=core.leave_reason, steps=core.steps_done)
    if core.leave_reason == CONFIG_MISMATCH:
        raise ConfigError(
            f"the coordinator at {net.coordinator} runs another model config: "
            "start this node with the same model flags or ENTRO_NET_* variables "
            "(--law, --kappa, --theta-base, ...) as the coordinator"
        )
    return 0
