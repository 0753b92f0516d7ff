"""``entro-net health``: does the local coordinator (or a node) answer?

For the coordinator: a heartbeat from a probe id to its control socket; any
reply within the timeout is an answer. For a node: any message on its PUB
(it sends heartbeat copies every half second). Without an address, the check
looks for ``entro-net node`` processes on this host (a node's container or
pod) and checks their PUBs, and checks the coordinator when there are none.

In secure mode (``ENTRO_NET_CURVE_SECRET`` set, as in the process's own
container) the probe dials with that key: a node admits its own key on its
PUB, the coordinator its own on the control socket, so the check needs no
extra key; it pins ``ENTRO_NET_COORDINATOR_KEY`` when it checks a coordinator
from a node's container.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import psutil
import zmq

from entro_net.config import NetworkConfig
from entro_net.protocol import Heartbeat, NodeState, encode
from entro_net.security.curve import dial_as
from entro_net.security.keys import load_keypair, load_public_key

PROBE_ID = "health-probe"


def check_coordinator(endpoint: str, timeout_s: float, net: NetworkConfig) -> bool:
    """Whether the coordinator at ``endpoint`` replies within ``timeout_s``."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, net.max_message_bytes)
    try:
        _dial_securely(sock, net, coordinator=True)
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


def _dial_securely(
    sock: zmq.Socket[bytes], net: NetworkConfig, *, coordinator: bool
) -> None:
    """Secure mode: dial with this container's own key (see the module doc)."""
    if net.curve_secret is None:
        return
    own = load_keypair(net.curve_secret)
    server = own.public
    if coordinator and net.coordinator_key is not None:
        server = load_public_key(net.coordinator_key)
    dial_as(sock, own)
    sock.setsockopt(zmq.CURVE_SERVERKEY, server)


def check_node(endpoint: str, timeout_s: float, net: NetworkConfig) -> bool:
    """Whether the node whose PUB is ``endpoint`` sends anything in time."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, net.max_message_bytes)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        _dial_securely(sock, net, coordinator=False)
        sock.connect(endpoint)
        return bool(sock.poll(int(timeout_s * 1000), zmq.POLLIN))
    finally:
        sock.close(0)
        ctx.term()


def is_node_command(cmdline: Sequence[str]) -> bool:
    """Whether a process's command line is ``entro-net node ...``."""
    for i, arg in enumerate(cmdline[:-1]):
        name = os.path.basename(arg)
        if name in ("entro-net", "entro_net") and cmdline[i + 1] == "node":
            return True
    return False


def local_node_endpoints() -> list[str]:
    """The listening endpoints of the node processes on this host.

    Only sockets in this process's network namespace are seen, so in a
    container or pod these are its own node's PUB.
    """
    endpoints: list[str] = []
    own_netns = _netns_of("self")
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.pid == os.getpid() or not is_node_command(cmdline):
            continue
        if own_netns is not None and _netns_of(str(proc.pid)) != own_netns:
            continue  # its sockets are not reachable from here anyway
        try:
            connections = proc.net_connections(kind="tcp")
        except (psutil.Error, OSError):
            continue
        for conn in connections:
            if conn.status != psutil.CONN_LISTEN:
                continue
            host = conn.laddr.ip
            if host in ("0.0.0.0", "::", ""):
                host = "127.0.0.1"
            elif ":" in host:
                host = f"[{host}]"
            endpoints.append(f"tcp://{host}:{conn.laddr.port}")
    return endpoints


def _netns_of(pid: str) -> str | None:
    """The network namespace a process lives in (None when it cannot be read)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def check_nodes(endpoints: Sequence[str], timeout_s: float, net: NetworkConfig) -> bool:
    """Whether any of the nodes whose PUBs are ``endpoints`` sends in time."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, net.max_message_bytes)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        _dial_securely(sock, net, coordinator=False)
        for endpoint in endpoints:
            sock.connect(endpoint)
        return bool(sock.poll(int(timeout_s * 1000), zmq.POLLIN))
    finally:
        sock.close(0)
        ctx.term()
