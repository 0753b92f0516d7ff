"""``entro-net health``: does the local coordinator (or a node) answer?

For the coordinator: a heartbeat from a probe id to its control socket; any
reply within the timeout is an answer. For a node: any message on its PUB
(it sends heartbeat copies every half second).
"""

from __future__ import annotations

import os
import time

import zmq

from entro_net.config import NetworkConfig
from entro_net.protocol import Heartbeat, NodeState, encode

PROBE_ID = "health-probe"


def check_coordinator(endpoint: str, timeout_s: float, net: NetworkConfig) -> bool:
    """Whether the coordinator at ``endpoint`` replies within ``timeout_s``."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, net.max_message_bytes)
    try:
        sock.connect(endpoint)
        probe = Heartbeat(
            node=f"{PROBE_ID}-{os.getpid()}",
            incarnation=time.time_ns() // 1_000_000,
            seq=0,
            ts=time.monotonic(),
            step=0,
            state=NodeState.JOINING,
        )
        sock.send(encode(probe))
        return bool(sock.poll(int(timeout_s * 1000), zmq.POLLIN))
    finally:
        sock.close(0)
        ctx.term()


def check_node(endpoint: str, timeout_s: float, net: NetworkConfig) -> bool:
    """Whether the node whose PUB is ``endpoint`` sends anything in time."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, net.max_message_bytes)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        sock.connect(endpoint)
        return bool(sock.poll(int(timeout_s * 1000), zmq.POLLIN))
    finally:
        sock.close(0)
        ctx.term()
