"""The coordinator's sockets: a thin loop around ``CoordinatorCore``.

ROUTER on P (hello, heartbeat, leave in; welcome, acks out), PUB on P+1
(threshold, isolate/readmit, membership) and one SUB a member, dialled to its
PUB: a message on it that speaks for another node is dropped as an impostor.
The loop polls with a timeout, decodes through the protocol's Decoder
(bad frames are dropped and counted), hands messages to the core, sends what
it returns and logs its events. With ``--curve-secret`` the control and event
sockets are CURVE servers admitting the allow list, and each member's PUB is
dialled pinned to the key it joined with (``entro_net.security``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import Any

import structlog
import zmq

from entro_net.config import (
    DEFAULT_PORT,
    TRANSPORT_MAX_FACTOR,
    NetworkConfig,
    Topology,
)
from entro_net.coordinator.core import CoordinatorCore
from entro_net.coordinator.hub import StateHub
from entro_net.coordinator.snapshot import load_snapshot, save_snapshot
from entro_net.errors import EntroNetError, ProtocolError
from entro_net.protocol import (
    Decoder,
    DropReason,
    Heartbeat,
    Hello,
    Leave,
    Message,
    State,
    WarnLimiter,
    encode,
)
from entro_net.security.curve import Domain, Role
from entro_net.security.guard import Guard

log = structlog.get_logger()

PORT_RANGE = (20000, 32000)
"""Where ``--port 0`` looks for two free ports in a row (below 32768)."""
PORT_TRIES = 200
RECV_BATCH = 512
HUB_RECOUNT_S = 0.1
"""How often the hub recounts the members that step (a batch waits for all)."""


class BindError(EntroNetError):
    """The coordinator could not bind its ports."""

    def __init__(self, message: str, address: str) -> None:
        self.address = address
        super().__init__(f"{address}: {message}")


def configure_socket(sock: zmq.Socket[bytes], net: NetworkConfig) -> None:
    """Linger, high-water marks and the maximum message size from config.

    ZeroMQ itself refuses frames past ``TRANSPORT_MAX_FACTOR`` times the
    protocol's limit and drops the connection for good (libzmq does not dial
    again after a protocol error: a node dials the coordinator's streams
    again when they fall silent, node/process.py); frames between the two
    reach the decoder, which drops and counts them as ``oversize``.
    """
    sock.setsockopt(zmq.LINGER, net.linger_ms)
    sock.setsockopt(zmq.SNDHWM, net.send_hwm)
    sock.setsockopt(zmq.MAXMSGSIZE, net.max_message_bytes * TRANSPORT_MAX_FACTOR)


def encode_checked(msg: Message, max_bytes: int) -> bytes | None:
    """The frame of ``msg``, or None (logged) when it breaks the wire's rules.

    Our own math must never put a non-finite or out-of-range number on the
    wire, and a message that would must not take the process down.
    """
    try:
        return encode(msg, max_bytes)
    except ProtocolError as exc:
        log.warning(
            "message_not_sent", type=msg.kind.label, reason=exc.reason, error=str(exc)
        )
        return None


def log_events(events: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Write the core's events through structlog."""
    for level, name, fields in events:
        getattr(log, level)(name, **fields)


class CoordinatorServer:
    """Binds the coordinator's sockets and runs its loop.

    Args:
        core: the decisions.
        net: ports, limits and timings.
        host: the address to bind (``0.0.0.0`` for every interface).
        port: the control port P (events on P+1); 0 picks two free ones.
        advertise: the host clients should dial (for the ready file).

    Raises:
        BindError: the ports are taken (or none were found for ``port=0``).
    """

    def __init__(
        self,
        core: CoordinatorCore,
        net: NetworkConfig,
        *,
        host: str = "0.0.0.0",
        port: int = DEFAULT_PORT,
        advertise: str = "127.0.0.1",
    ) -> None:
        self.core = core
        self.net = net
        self.ctx = zmq.Context()
        try:
            self.guard = Guard(self.ctx, net, Role.COORDINATOR)
        except EntroNetError:
            self.ctx.term()
            raise
        self.router = self.ctx.socket(zmq.ROUTER)
        self.pub = self.ctx.socket(zmq.PUB)
        for sock in (self.router, self.pub):
            configure_socket(sock, net)
        self.router.setsockopt(zmq.ROUTER_HANDOVER, 1)
        # Sending to a routing id whose connection closed fails (EHOSTUNREACH)
        # instead of vanishing: that is how a hello tells a restarted member
        # (old link closed) from a second process claiming its id.
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        core.link_up = self._link_up
        self.dialled: dict[str, tuple[zmq.Socket[bytes], str]] = {}
        """One SUB a member's PUB: endpoint → (socket, the member's id)."""
        self.hub: StateHub | None = None
        self.hub_pub: zmq.Socket[bytes] | None = None
        self.hub_stepping = (0, -1.0)  # (members stepping, when counted)
        if net.topology is Topology.HUB:
            # The hub topology: every state goes out again to all, batched (P+2).
            self.hub = StateHub(
                core.node_id, core.incarnation, net.hub_wait_s, net.max_message_bytes
            )
            self.hub_pub = self.ctx.socket(zmq.PUB)
            configure_socket(self.hub_pub, net)
            self.guard.serve(self.hub_pub, Domain.EVENTS, "hub")
        self.guard.serve(self.router, Domain.CONTROL, "control")
        self.guard.serve(self.pub, Domain.EVENTS, "events")
        try:
            self.port = self._bind(host, port)
        except BindError:
            self.close()
            raise
        self.host = advertise
        self.control_decoder = Decoder(max_bytes=net.max_message_bytes)
        self.event_decoder = Decoder(max_bytes=net.max_message_bytes)
        self.warn = WarnLimiter(net.warn_interval_s)
        self.sent = 0
        self.poller = zmq.Poller()
        self.poller.register(self.router, zmq.POLLIN)
        for sock in self.guard.sockets:
            self.poller.register(sock, zmq.POLLIN)
        self.on_frame: Callable[[float, bytes], None] | None = None
        """Called with every frame received or published (``--record``)."""
        self.on_tick: Callable[[float], None] | None = None
        """Called after every tick of the core (``--metrics-port``)."""
        self.extra_endpoints: dict[str, Any] = {}
        """Added to ``endpoints`` (e.g. the metrics URL)."""
        self.state_due = 0.0
        if net.state_file is not None:
            self._restore(net.state_file)

    def _bind(self, host: str, port: int) -> int:
        if port != 0:
            self._bind_pair(host, port)
            return port
        for _ in range(PORT_TRIES):
            candidate = random.randrange(*PORT_RANGE)
            try:
                self._bind_pair(host, candidate)
            except BindError:
                continue
            return candidate
        raise BindError("no two free ports in a row found", f"tcp://{host}")

    def _bind_pair(self, host: str, port: int) -> None:
        control = f"tcp://{host}:{port}"
        events = f"tcp://{host}:{port + 1}"
        try:
            self.router.bind(control)
        except zmq.ZMQError as exc:
            raise BindError(f"cannot bind the control socket: {exc}", control) from exc
        try:
            self.pub.bind(events)
        except zmq.ZMQError as exc:
            self.router.unbind(control)
            raise BindError(f"cannot bind the event socket: {exc}", events) from exc
        if self.hub_pub is not None:
            hub = f"tcp://{host}:{port + 2}"
            try:
                self.hub_pub.bind(hub)
            except zmq.ZMQError as exc:
                self.router.unbind(control)
                self.pub.unbind(events)
                raise BindError(f"cannot bind the hub socket: {exc}", hub) from exc

    @property
    def endpoints(self) -> dict[str, Any]:
        """Where clients dial: what ``--ready-file`` holds."""
        return {
            "control": f"tcp://{self.host}:{self.port}",
            "events": f"tcp://{self.host}:{self.port + 1}",
            "port": self.port,
            "events_port": self.port + 1,
            **({"hub": f"tcp://{self.host}:{self.port + 2}"} if self.hub else {}),
            **self.extra_endpoints,
        }

    @property
    def dropped(self) -> int:
        """Frames dropped on both receiving sockets."""
        return self.control_decoder.dropped + self.event_decoder.dropped

    def poll_once(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for traffic, handle it, do what is due."""
        now = time.monotonic()
        wait = max(0.0, min(timeout_s, self.core.next_deadline(now) - now))
        hub_due = self.hub.deadline() if self.hub is not None else None
        if hub_due is not None:
            wait = max(0.0, min(wait, hub_due - now))
        # Rounded up: a wait cut to 0 ms would spin the loop until it is due.
        ready = dict(self.poller.poll(math.ceil(wait * 1000)))
        self.guard.handle(time.monotonic(), ready)
        if self.router in ready:
            self._drain_router()
        for sock, node in list(self.dialled.values()):
            if sock in ready:
                self._drain_sub(sock, node)
        if self.hub is not None:
            self._flush_hub(time.monotonic())
        self.core.tick(time.monotonic())
        self.flush()
        if self.on_tick is not None:
            self.on_tick(time.monotonic())
        self._save_state(time.monotonic())

    def _restore(self, path: str) -> None:
        snapshot = load_snapshot(path)
        if snapshot is not None and self.core.restore(snapshot, time.monotonic()):
            log.info("state_file_loaded", path=path)
        log_events(self.core.drain_events())

    def _save_state(self, now: float) -> None:
        path = self.net.state_file
        if path is None or (not self.core.changed and now < self.state_due):
            return
        try:
            save_snapshot(path, self.core.snapshot())
        except OSError as exc:
            log.warning("state_file_not_written", path=path, error=str(exc))
        self.core.changed = False
        self.state_due = now + self.net.state_interval_s

    def run(self, should_stop: Callable[[], bool], poll_s: float = 0.1) -> None:
        """Run until ``should_stop()`` says so."""
        while not should_stop():
            self.poll_once(poll_s)

    def _drain_router(self) -> None:
        for _ in range(RECV_BATCH):
            try:
                parts, key = self._recv_control()
            except zmq.Again:
                return
            if len(parts) != 2:
                # One protocol message is one frame (PROTOCOL.md §1).
                self.control_decoder.received += 1
                self.control_decoder.drops[DropReason.GARBAGE] += 1
                self._dropped(DropReason.GARBAGE.value)
                continue
            conn, frame = parts
            now = time.monotonic()
            if self.on_frame is not None:
                self.on_frame(now, frame)
            msg = self.control_decoder.feed(frame, now=now, conn=conn)
            if msg is None:
                self._dropped(str(self.control_decoder.last_drop))
            elif isinstance(msg, Hello):
                refused = self.core.refused_hellos
                self.core.on_hello(msg, conn, now, key=key)
                if self.core.refused_hellos > refused:
                    self._unclaim(conn, msg.node)
            elif isinstance(msg, Heartbeat):
                self.core.on_heartbeat(msg, conn, now)
            elif isinstance(msg, Leave):
                self.core.on_leave(msg, now)
            else:
                self._dropped("unexpected_type")

    def _link_up(self, conn: bytes) -> bool:
        """Whether the control connection ``conn`` is still open (a heartbeat
        answer is the probe: harmless where it arrives)."""
        frame = encode(self.core.ack(time.monotonic()), self.net.max_message_bytes)
        try:
            self.router.send_multipart([conn, frame], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            return exc.errno != zmq.EHOSTUNREACH
        return True

    def _unclaim(self, conn: bytes, node: str) -> None:
        """Undo what a refused hello did to the decoder: the claimant's
        connection speaks for nobody, and the real member's next message is
        taken (not stale against the claimant's newer incarnation)."""
        decoder = self.control_decoder
        decoder.binding.forget(conn)
        if decoder.sequence is not None:
            decoder.sequence.forget(node)

    def _recv_control(self) -> tuple[list[bytes], str | None]:
        """One message off the control socket and the CURVE key it came with."""
        if not self.guard.is_secure:
            return self.router.recv_multipart(zmq.NOBLOCK), None
        frames = self.router.recv_multipart(zmq.NOBLOCK, copy=False)
        return [frame.bytes for frame in frames], self.guard.user_key(frames[-1])

    def _drain_sub(self, sock: zmq.Socket[bytes], node: str) -> None:
        for _ in range(RECV_BATCH):
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            now = time.monotonic()
            if self.on_frame is not None:
                self.on_frame(now, frame)
            msg = self.event_decoder.feed(frame, now=now, expect_node=node)
            if msg is None:
                self._dropped(str(self.event_decoder.last_drop))
            elif isinstance(msg, State):
                self.core.on_state(msg, now)
                if self.hub is not None:
                    self._hub_state(msg, now)
            elif isinstance(msg, Heartbeat):
                self.core.on_heartbeat(msg, None, now)
            elif isinstance(msg, Leave):
                if self.hub is not None:
                    self._hub_leave(msg, now)
                self.core.on_leave(msg, now, on_pub=True)

    def _hub_state(self, msg: State, now: float) -> None:
        assert self.hub is not None
        member = self.core.members.get(msg.node)
        if member is not None and member.incarnation == msg.incarnation:
            self.hub.add(member.index, msg, now)

    def _hub_leave(self, msg: Leave, now: float) -> None:
        assert self.hub is not None
        member = self.core.members.get(msg.node)
        if member is not None and member.incarnation == msg.incarnation:
            self.hub.add_leave(member.index, msg.incarnation, now)

    def _flush_hub(self, now: float) -> None:
        """Publish the gathered states when their batch is due."""
        assert self.hub is not None and self.hub_pub is not None
        counted, when = self.hub_stepping
        if now - when > HUB_RECOUNT_S:
            counted = sum(
                1
                for m in self.core.members.values()
                if m.latest is not None
                and m.left_at is None
                and m.status.value != "dead"
            )
            self.hub_stepping = (counted, now)
        if not self.hub.is_due(now, max(counted, 1)):
            return
        for frame in self.hub.take(now):
            try:
                self.hub_pub.send(frame, zmq.NOBLOCK)
            except zmq.ZMQError:
                log.debug("hub_batch_not_sent")

    def _dropped(self, reason: str) -> None:
        count = self.warn.admit(reason, time.monotonic())
        if count:
            log.warning("messages_dropped", reason=reason, count=count)

    def flush(self) -> None:
        """Send, dial and log what the core asked for."""
        out = self.core.drain()
        # Hang up first: a member restarted on the same port is dialled anew.
        for endpoint in out.disconnect:
            self._hang_up(endpoint)
        for endpoint in out.connect:
            if endpoint not in self.dialled:
                self._dial(endpoint)
        for conn, msg in out.reply:
            reply = encode_checked(msg, self.net.max_message_bytes)
            if reply is None:
                continue
            try:
                self.router.send_multipart([conn, reply], zmq.NOBLOCK)
                self.sent += 1
            except zmq.ZMQError:
                log.debug("reply_not_sent", type=msg.kind.label)
        for msg in out.publish:
            frame = encode_checked(msg, self.net.max_message_bytes)
            if frame is None:
                continue
            self.pub.send(frame, zmq.NOBLOCK)
            self.sent += 1
            if self.on_frame is not None:
                self.on_frame(time.monotonic(), frame)
        log_events(out.events)

    def _dial(self, endpoint: str) -> None:
        member = next(
            (m for m in self.core.members.values() if m.endpoint == endpoint),
            None,
        )
        if member is None:
            return
        node = member.node
        sock = self.ctx.socket(zmq.SUB)
        configure_socket(sock, self.net)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.guard.dial(sock, "member", "peer", watched=False)
        if not self.guard.connect(sock, endpoint, member.key):
            sock.close(linger=0)
            log.warning("member_without_key", member=node, endpoint=endpoint)
            return
        self.poller.register(sock, zmq.POLLIN)
        self.dialled[endpoint] = (sock, node)

    def _hang_up(self, endpoint: str) -> None:
        dialled = self.dialled.pop(endpoint, None)
        if dialled is not None:
            self.poller.unregister(dialled[0])
            dialled[0].close(linger=0)

    def close(self) -> None:
        """Close the sockets (with the configured linger) and the context."""
        for sock in (self.router, self.pub):
            sock.close(linger=self.net.linger_ms)
        if self.hub_pub is not None:
            self.hub_pub.close(linger=self.net.linger_ms)
        for sock, _ in self.dialled.values():
            sock.close(linger=0)
        self.dialled.clear()
        self.guard.close()
        self.ctx.term()
