"""Listening to a whole network: the coordinator's events and every node's PUB.

State messages travel node to node, so a watcher cannot get them from the
coordinator alone. A ``Tap`` subscribes to the coordinator's event stream
(P+1), learns the members from its membership messages and dials each
member's PUB with the same SUB socket. ZeroMQ reconnects by itself, so a tap
survives the coordinator going away and coming back; nodes it dialled keep
flowing meanwhile. An endpoint missing from the membership for
``FORGET_ENDPOINT_AFTER_S`` is hung up.

In a secure network (``--curve-secret``, docs/SECURITY.md) the tap dials as a
CURVE client: the coordinator with its pinned public key, each member with
the key the membership gives; its own key must be in the allow list
(``allowed/observers/``) of the coordinator and of the nodes.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import zmq

from entro_net.config import NetworkConfig
from entro_net.errors import ConfigError
from entro_net.protocol import Decoder, Membership, Message
from entro_net.security.curve import Curve, Role, connect, dial_as
from entro_net.security.handshake import HandshakeWatch

FORGET_ENDPOINT_AFTER_S = 30.0
"""A member's endpoint is hung up once the membership left it out this long."""
RECV_BATCH = 1024


@dataclass(frozen=True)
class Arrival:
    """One frame off the wire: when, the bytes, and the message (None: bad)."""

    ts: float
    frame: bytes
    msg: Message | None


def events_endpoint(coordinator: str) -> str:
    """The coordinator's event stream (port P+1) from its control endpoint.

    Raises:
        ConfigError: ``coordinator`` is not ``tcp://HOST:PORT``.
    """
    head, sep, port = coordinator.rpartition(":")
    if not coordinator.startswith("tcp://") or not sep or not port.isdigit():
        raise ConfigError(
            f"--coordinator must be tcp://HOST:PORT (the control port), "
            f"got {coordinator!r}"
        )
    return f"{head}:{int(port) + 1}"


class Tap:
    """One SUB socket on the coordinator's events and every member's PUB.

    Args:
        coordinator: the coordinator's control endpoint ``tcp://HOST:P``.
        net: socket limits (maximum message size, linger).
        dial_members: also dial the members' PUBs (off: coordinator only).

    Raises:
        ConfigError: a malformed coordinator endpoint, or bad CURVE keys.
    """

    def __init__(
        self, coordinator: str, net: NetworkConfig, *, dial_members: bool = True
    ) -> None:
        self.events = events_endpoint(coordinator)
        self.net = net
        self.dial_members = dial_members
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.MAXMSGSIZE, net.max_message_bytes)
        self.sub.setsockopt(zmq.RCVHWM, 100_000)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.curve = Curve.from_config(net, Role.OBSERVER)
        if self.curve is not None:
            dial_as(self.sub, self.curve.own)
        self.watch = HandshakeWatch(
            self.sub,
            name="tap",
            server=False,
            secure=self.curve is not None,
            peer="server",
            warn_interval_s=net.warn_interval_s,
        )
        connect(self.sub, self.events, self._key(None))
        self.decoder = Decoder(max_bytes=net.max_message_bytes, track_sequence=False)
        self.dialled: dict[str, float] = {}

    def poll(self, timeout_s: float) -> list[Arrival]:
        """Wait up to ``timeout_s`` for frames; return what arrived, decoded."""
        arrivals: list[Arrival] = []
        self.watch.drain(time.monotonic())
        if not self.sub.poll(int(max(timeout_s, 0.0) * 1000), zmq.POLLIN):
            return arrivals
        for _ in range(RECV_BATCH):
            try:
                frame = self.sub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            now = time.monotonic()
            msg = self.decoder.feed(frame)
            if isinstance(msg, Membership):
                self._dial(msg, now)
            arrivals.append(Arrival(now, frame, msg))
        return arrivals

    def _dial(self, msg: Membership, now: float) -> None:
        if not self.dial_members:
            return
        for member in msg.members:
            if self.curve is not None and member.key is None:
                continue  # a secure tap cannot pin a member without a key
            if member.endpoint not in self.dialled:
                connect(self.sub, member.endpoint, self._key(member.key))
            self.dialled[member.endpoint] = now
        for endpoint, seen in list(self.dialled.items()):
            if now - seen > FORGET_ENDPOINT_AFTER_S:
                del self.dialled[endpoint]
                with contextlib.suppress(zmq.ZMQError):
                    self.sub.disconnect(endpoint)

    def _key(self, member_key: str | None) -> bytes | None:
        """The server key to pin: a member's, or (None) the coordinator's."""
        if self.curve is None:
            return None
        if member_key is None:
            return self.curve.coordinator_key
        return member_key.encode("ascii")

    def close(self) -> None:
        """Close the socket and the context."""
        self.watch.close()
        self.sub.close(linger=0)
        self.ctx.term()
