"""The node process: its sockets and a thin loop around ``NodeCore``.

A PUB bound on its own port (state, heartbeat copies, leave), a SUB dialled
to every peer's PUB and to the coordinator's event stream, and a DEALER to
the coordinator's control socket. The loop polls with a timeout, decodes
through the protocol's Decoder (bad frames dropped and counted), hands
messages to the core, sends what it returns and logs its events. SIGTERM
and Ctrl-C make the node leave cleanly. With ``--curve-secret`` the PUB is a
CURVE server (the coordinator, the allow list and the members the
coordinator vouched for) and every dial pins the key of what it dials.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import re
import secrets
import signal
import socket
import time
from collections.abc import Container
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import structlog
import zmq

from entro_net.config import STEADY_SETTLE_S, Clock, NetworkConfig, Topology
from entro_net.coordinator.server import (
    configure_socket,
    encode_checked,
    log_events,
)
from entro_net.errors import ConfigError, ProtocolError
from entro_net.files import write_text_atomic
from entro_net.node.core import NodeCore, Phase
from entro_net.node.stats import (
    DelayHistogram,
    StateLoss,
    cpu_seconds,
    memory_mb,
    peak_rss_mb,
)
from entro_net.protocol import Decoder, Leave, State, WarnLimiter
from entro_net.protocol.batch import Batch, decode_batch
from entro_net.security.curve import Domain, Role
from entro_net.security.guard import Guard

log = structlog.get_logger()

NODE_PORT_RANGE = (20000, 32767)
RECV_BATCH = 512
UNAPPLIED_MAX = 16  # hub batches held before they are applied in any case
HISTORY_COLUMNS = ("step", "psi_raw", "psi", "w1", "w2", "w3", "theta_net", "isolated")


def default_node_id() -> str:
    """The host name plus a short random suffix, so replicas differ."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:40] or "node"
    if not host[0].isalnum():
        host = "n" + host
    return f"{host}-{secrets.token_hex(3)}"


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` as (host, port).

    Raises:
        ConfigError: it is not of that form.
    """
    parts = urlsplit(endpoint)
    if parts.scheme != "tcp" or parts.hostname is None or parts.port is None:
        raise ConfigError(
            f"coordinator endpoint must be tcp://HOST:PORT, got {endpoint!r}"
        )
    return parts.hostname, parts.port


def advertised_host(bind_host: str, coordinator_host: str) -> str:
    """The address peers should dial when ``--advertise`` is not given.

    The bound address when it is a specific one; else the local address of
    the route toward the coordinator (a UDP socket's ``connect`` sends
    nothing); else (the coordinator's name does not resolve yet) the first
    IPv4 address of an interface that is up; else the host name.
    """
    if bind_host not in ("0.0.0.0", "*", ""):
        return bind_host
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((coordinator_host, 9))
        return str(probe.getsockname()[0])
    except OSError:
        return interface_address() or socket.gethostname()
    finally:
        probe.close()


def interface_address() -> str | None:
    """The first non-loopback IPv4 address of an interface that is up."""
    import psutil

    stats = psutil.net_if_stats()
    for name, addresses in sorted(psutil.net_if_addrs().items()):
        if name not in stats or not stats[name].isup:
            continue
        for address in addresses:
            is_ipv4 = address.family == socket.AF_INET
            if is_ipv4 and not address.address.startswith("127."):
                return str(address.address)
    return None


class StopFlag:
    """Set by SIGTERM or SIGINT; the loop checks it between polls."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def install(self) -> None:
        """Catch SIGTERM and SIGINT from now on."""
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.reason = signal.Signals(signum).name.lower()


class NodeProcess:
    """Owns one node's sockets and runs its loop."""

    def __init__(
        self,
        core: NodeCore,
        net: NetworkConfig,
        *,
        coordinator: str,
        pub: zmq.Socket[bytes],
        ctx: zmq.Context[zmq.Socket[bytes]],
        guard: Guard | None = None,
    ) -> None:
        host, port = split_endpoint(coordinator)
        self.core = core
        self.net = net
        self.ctx = ctx
        self.pub = pub
        if guard is None and net.curve_secret is not None:
            raise ConfigError("a secure node's guard must exist before its PUB binds")
        self.guard = guard or Guard(ctx, net, Role.NODE)
        self.guard.vouched = lambda key: core.is_vouched(key.decode("ascii"))
        self.sub = ctx.socket(zmq.SUB)
        self.dealer = ctx.socket(zmq.DEALER)
        for sock in (self.sub, self.dealer):
            configure_socket(sock, net)
        self.dealer.setsockopt(zmq.IMMEDIATE, 1)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.guard.dial(self.dealer, "control", "coordinator", watched=True)
        self.guard.dial(self.sub, "events", "coordinator", watched=self.guard.is_secure)
        self.control_endpoint = f"tcp://{host}:{port}"
        self.events_endpoint = f"tcp://{host}:{port + 1}"
        key = self.guard.coordinator_key
        self.guard.connect(self.dealer, self.control_endpoint, key)
        self.guard.connect(self.sub, self.events_endpoint, key)
        self.redial_due: float | None = None
        self.peer_redials: dict[str, float] = {}
        """Peer endpoints to dial again (their node refused our key), and when."""
        self.dialled: dict[str, tuple[zmq.Socket[bytes], str]] = {}
        """One SUB a peer (endpoint → socket, peer id): a state on it that
        claims another node's id is dropped as an impostor."""
        self.sub_decoder = Decoder(max_bytes=net.max_message_bytes)
        self.control_decoder = Decoder(max_bytes=net.max_message_bytes)
        self.warn = WarnLimiter(net.warn_interval_s)
        self.poller = zmq.Poller()
        self.poller.register(self.sub, zmq.POLLIN)
        self.poller.register(self.dealer, zmq.POLLIN)
        for sock in self.guard.sockets:
            self.poller.register(sock, zmq.POLLIN)
        self.unsent = 0
        self.delays = DelayHistogram()
        self.steady_delays = DelayHistogram()
        """Delays once the network is up and until this node leaves (what a
        benchmark compares with a bare mesh measured after a ready barrier)."""
        self.steady_from: float | None = None
        self.loss = StateLoss()
        self.active_since: float | None = None
        self.active_until: float | None = None
        self.cpu_at_active = 0.0
        self.hub_sub: zmq.Socket[bytes] | None = None
        self.hub_endpoint = ""
        now = time.monotonic()
        self.heard = {"events": now, "hub": now}
        """When each of the coordinator's streams last brought a frame."""
        self.links_due = now
        if net.topology is Topology.HUB:
            # Peers' states come from the coordinator's hub (P+2), batched.
            self.hub_sub = ctx.socket(zmq.SUB)
            configure_socket(self.hub_sub, net)
            self.hub_sub.setsockopt(zmq.SUBSCRIBE, b"")
            self.guard.dial(self.hub_sub, "hub", "coordinator", watched=False)
            self.hub_endpoint = f"tcp://{host}:{port + 2}"
            self.guard.connect(self.hub_sub, self.hub_endpoint, key)
            self.poller.register(self.hub_sub, zmq.POLLIN)
        self.hub_batches = 0
        self.hub_dropped = 0
        self.hub_stale = 0
        """Rows not newer than what the node has of that peer (a replay)."""
        self.unapplied: list[tuple[bytes, float]] = []
        """Hub batch frames received and not yet decoded and handed to the
        core, with their times of receipt."""
        self.hub_peers: set[str] = set()
        """Peers' endpoints, dialled only while the coordinator (the hub) is lost."""

    @staticmethod
    def bind_pub(
        ctx: zmq.Context[zmq.Socket[bytes]],
        net: NetworkConfig,
        host: str,
        guard: Guard | None = None,
    ) -> tuple[zmq.Socket[bytes], int]:
        """Bind the node's PUB: on ``net.node_port``, or a free port below 32768.

        ``guard`` makes it a CURVE server first (secure mode).

        Raises:
            ConfigError: the port is taken.
        """
        pub = ctx.socket(zmq.PUB)
        configure_socket(pub, net)
        if guard is not None:
            guard.serve(pub, Domain.NODE, "pub")
        try:
            if net.node_port:
                pub.bind(f"tcp://{host}:{net.node_port}")
                return pub, net.node_port
            port = pub.bind_to_random_port(
                f"tcp://{host}", NODE_PORT_RANGE[0], NODE_PORT_RANGE[1], 500
            )
        except zmq.ZMQError as exc:
            pub.close(0)
            raise ConfigError(
                f"cannot bind the node's PUB on {host}:{net.node_port or '*'}: {exc}"
            ) from exc
        return pub, int(port)

    def run(self, stop: StopFlag) -> None:
        """Step until the node is done or ``stop`` is set; then leave."""
        while not self.core.is_done:
            if stop.reason is not None:
                self.core.leave(time.monotonic(), stop.reason)
                self.flush()
                break
            now = time.monotonic()
            wait = max(0.0, self.core.next_deadline(now) - now)
            # Rounded up: a wait cut to 0 ms would spin the loop until due.
            ready = dict(self.poller.poll(math.ceil(wait * 1000)))
            self._guard(time.monotonic(), ready)
            self._watch_streams(time.monotonic(), ready)
            if self.sub in ready:
                # This SUB dials the coordinator's event stream alone: once its
                # id is known, its backlog after a pause is not a flood. (Not
                # so the DEALER: a new coordinator's welcome must get through.)
                self._drain(
                    self.sub,
                    self.sub_decoder,
                    control=False,
                    link=self.core.coordinator_id,
                )
            if self.dealer in ready:
                self._drain(self.dealer, self.control_decoder, control=True)
            if self.hub_sub is not None and self.hub_sub in ready:
                self._drain_hub(self.hub_sub)
            for sock, peer in list(self.dialled.values()):
                if sock in ready:
                    self._drain(sock, self.sub_decoder, control=False, peer=peer)
            now = time.monotonic()
            if self.unapplied and self._batches_needed(now):
                self._apply_batches()
            self.core.tick(now)
            self.flush()
            if self.active_since is None and self.core.started:
                self.active_since = time.monotonic()
                self.cpu_at_active = cpu_seconds()
        self.active_until = time.monotonic()
        self._apply_batches()  # their delays belong to the figures

    def _guard(self, now: float, ready: Container[zmq.Socket[bytes]]) -> None:
        """Answer ZAP requests; dial the coordinator again after a refusal.

        ZeroMQ never dials again once the other side refused its key; the
        key may be added to the allow list later, so try again after
        ``rejoin_backoff_max_s``. A peer refuses a key it has not heard of
        from the coordinator yet (``CURVE_KEY_WAIT_S``): dial it again soon.
        """
        for _, endpoint, failure in self.guard.handle(now, ready):
            coordinator = endpoint in (self.control_endpoint, self.events_endpoint)
            if failure.key_refused and coordinator and self.redial_due is None:
                self.redial_due = now + self.net.rejoin_backoff_max_s
            elif failure.key_refused and endpoint in self.dialled:
                due = now + self.net.heartbeat_interval_s
                self.peer_redials.setdefault(endpoint, due)
        if self.redial_due is not None and now >= self.redial_due:
            self.redial_due = None
            self._redial_coordinator()
        for endpoint, due in list(self.peer_redials.items()):
            if now >= due:
                del self.peer_redials[endpoint]
                if endpoint in self.dialled:
                    self._hang_up(endpoint)
                    self._dial(endpoint)

    def _watch_streams(self, now: float, ready: Container[zmq.Socket[bytes]]) -> None:
        """Dial a coordinator stream again when it fell silent.

        The coordinator publishes on its events stream every tick or round
        (θ_net) and every ``membership_interval_s``, and on the hub stream
        while anyone steps. Silence on one of them for ``dead_after``
        heartbeats (or three periods of a slow clock, or two lockstep waits)
        while the control link answers means the link is gone: ZeroMQ does
        not dial again after a protocol error such as one frame over the
        size limit.
        """
        if self.sub in ready:
            self.heard["events"] = now
        if self.hub_sub is not None and self.hub_sub in ready:
            self.heard["hub"] = now
        if now < self.links_due:
            return
        silence = max(
            self.net.dead_after * self.net.heartbeat_interval_s,
            3.0 / self.core.settings.rate_hz,
            2.0 * self.net.lockstep_wait_s,
        )
        self.links_due = now + self.net.heartbeat_interval_s
        answers = now - self.core.coordinator_seen < silence
        if not (self.core.welcomed and self.core.started and answers):
            # Not stepping yet, or the coordinator itself is silent (stalled
            # or gone: the core says hello again after dead_after heartbeats).
            self.heard = dict.fromkeys(self.heard, now)
            return
        streams = [("events", self.sub, self.events_endpoint)]
        if self.hub_sub is not None:
            streams.append(("hub", self.hub_sub, self.hub_endpoint))
        for name, sock, endpoint in streams:
            silent_s = now - self.heard[name]
            if silent_s > silence:
                never = name == "hub" and not (self.hub_batches or self.unapplied)
                log.warning(
                    "coordinator_stream_silent",
                    stream=name,
                    silent_s=round(silent_s, 3),
                    endpoint=endpoint,
                    hint=(
                        "no batch ever came: does the coordinator run "
                        "--topology hub as well?"
                        if never
                        else "dialling it again"
                    ),
                )
                with contextlib.suppress(zmq.ZMQError):
                    sock.disconnect(endpoint)
                sock.connect(endpoint)
                self.heard[name] = now

    def _drain(
        self,
        sock: zmq.Socket[bytes],
        decoder: Decoder,
        *,
        control: bool,
        peer: str | None = None,
        link: str | None = None,
    ) -> None:
        """Take what ``sock`` holds; ``peer`` (a member's own link) or ``link``
        (the coordinator's stream) names the only sender it may carry."""
        for _ in range(RECV_BATCH):
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            now = time.monotonic()
            msg = decoder.feed(frame, now=now, expect_node=peer or link)
            if msg is None:
                reason = str(decoder.last_drop)
                count = self.warn.admit(reason, now)
                if count:
                    log.warning("messages_dropped", reason=reason, count=count)
                continue
            if isinstance(msg, State) and not control:
                # Both stamps are CLOCK_MONOTONIC: one host's processes share it.
                self.delays.add(now - msg.ts)
                if self._steady(now):
                    self.steady_delays.add(now - msg.ts)
                known = self.core.peers.get(msg.node)
                if known is None or msg.incarnation >= known.incarnation:
                    self.loss.observe(msg.node, msg.incarnation, msg.seq)
            self.core.handle(msg, now, control=control, from_peer=peer is not None)

    def _drain_hub(self, sock: zmq.Socket[bytes]) -> None:
        """Take the hub's batch frames, each stamped with its time of receipt."""
        for _ in range(RECV_BATCH):
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.unapplied.append((frame, time.monotonic()))
            if not int(sock.get(zmq.EVENTS)) & zmq.POLLIN:
                return  # cheaper than a recv that raises

    def _batches_needed(self, now: float) -> bool:
        """Whether the core must have the held hub batches now.

        A free-clock node uses its peers' states when it computes its next
        step, between the bursts of states: it decodes a batch and takes its
        rows then, not while the other nodes are still receiving theirs. A
        lockstep round may close on them at once.
        """
        return (
            self.core.settings.clock is Clock.LOCKSTEP
            or self.core.next_deadline(now) <= now
            or len(self.unapplied) >= UNAPPLIED_MAX
        )

    def _apply_batches(self) -> None:
        """Decode and check the held batch frames, count their delays (to
        their receipt) and hand their rows to the core, oldest first; a bad
        frame is dropped and counted."""
        for frame, received in self.unapplied:
            try:
                batch = decode_batch(frame, self.net.max_message_bytes)
            except ProtocolError as exc:
                self.hub_dropped += 1
                if self.warn.admit(f"hub_{exc.reason}", received):
                    log.warning("hub_batch_dropped", reason=exc.reason)
                continue
            self.hub_batches += 1
            records = batch.records
            if self.core.index is not None:
                records = records[records["index"] != self.core.index]
            stamps = self._take_batch(batch._replace(records=records), received)
            self.delays.add_many(
                received - np.asarray(stamps),
                self._steady(received) and self.steady_delays,
            )
        self.unapplied.clear()

    def _take_batch(self, batch: Batch, now: float) -> list[float]:
        """Hand a batch's rows and leaves to the core; the publish stamps of
        the rows that were not replays (their delays count)."""
        by_index = {p.index: p for p in self.core.peers.values()}
        stamps: list[float] = []
        for row in batch.records.tolist():
            peer = by_index.get(row[0])
            if peer is None:
                stamps.append(row[3])
                continue  # not a member we know (yet)
            latest = peer.latest
            if row[1] < peer.incarnation or (
                latest is not None
                and latest.incarnation == row[1]
                and row[2] <= latest.seq
            ):
                self.hub_stale += 1  # an older life's or an old state: a replay
                continue
            stamps.append(row[3])
            state = State._make((peer.node, *row[1:12], bool(row[12]), row[13]))
            self.loss.observe(peer.node, state.incarnation, state.seq)
            self.core.handle(state, now)
        for index, incarnation in batch.leaves:
            peer = by_index.get(index)
            if peer is not None and peer.incarnation == incarnation:
                leave = Leave(
                    node=peer.node,
                    incarnation=incarnation,
                    seq=0,
                    ts=now,
                    reason="left",
                )
                self.core.handle(leave, now)
        return stamps

    def _steady(self, now: float) -> bool:
        """Whether a delay counts as steady: from ``STEADY_SETTLE_S`` after
        this node first heard every peer (``--network-size`` − 1 of them,
        else one) until it starts to leave."""
        if self.steady_from is None:
            need = max(self.core.settings.network_size - 1, 1)
            heard = sum(p.latest is not None for p in self.core.peers.values())
            if heard >= need:
                self.steady_from = now + STEADY_SETTLE_S
            return False
        return now >= self.steady_from and self.core.phase not in (
            Phase.LEAVING,
            Phase.DONE,
        )

    def _hub_links(self, connect: list[str], disconnect: list[str]) -> None:
        """With the hub, peers' states come from the coordinator: dial the
        peers only while it is lost (the network then runs as a mesh), and
        hang up once it is back."""
        self.hub_peers.update(connect)
        self.hub_peers.difference_update(disconnect)
        connect.clear()
        if self.core.started and not self.core.welcomed:
            connect.extend(e for e in self.hub_peers if e not in self.dialled)
        elif self.dialled:
            disconnect.extend(self.dialled)

    def flush(self) -> None:
        """Send, dial and log what the core asked for."""
        out = self.core.drain()
        if self.hub_sub is not None:
            self._hub_links(out.connect, out.disconnect)
        for endpoint in out.disconnect:
            self._hang_up(endpoint)
        for endpoint in out.connect:
            if endpoint not in self.dialled:
                self._dial(endpoint)
        if out.redial:
            self._redial_coordinator()
        for msg in out.publish:
            frame = encode_checked(msg, self.net.max_message_bytes)
            if frame is not None:
                self.pub.send(frame, zmq.NOBLOCK)
        for msg in out.control:
            frame = encode_checked(msg, self.net.max_message_bytes)
            if frame is None:
                continue
            try:
                self.dealer.send(frame, zmq.NOBLOCK)
            except zmq.Again:
                self.unsent += 1
        log_events(out.events)

    def _dial(self, endpoint: str) -> None:
        peer = next(
            (p.node for p in self.core.peers.values() if p.endpoint == endpoint), None
        )
        if peer is None:
            return
        sock = self.ctx.socket(zmq.SUB)
        configure_socket(sock, self.net)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.guard.dial(sock, "peer", "peer", watched=self.guard.is_secure)
        if not self.guard.connect(sock, endpoint, self.core.peer_key(endpoint)):
            self.guard.forget(sock)
            sock.close(linger=0)
            log.warning("peer_without_key", peer=peer, endpoint=endpoint)
            return
        self.poller.register(sock, zmq.POLLIN)
        self.dialled[endpoint] = (sock, peer)

    def _hang_up(self, endpoint: str) -> None:
        dialled = self.dialled.pop(endpoint, None)
        if dialled is not None:
            self.poller.unregister(dialled[0])
            self.guard.forget(dialled[0])
            dialled[0].close(linger=0)

    def _redial_coordinator(self) -> None:
        """Connect both coordinator links afresh (the name is resolved again)."""
        for sock, endpoint in (
            (self.dealer, self.control_endpoint),
            (self.sub, self.events_endpoint),
        ):
            with contextlib.suppress(zmq.ZMQError):
                sock.disconnect(endpoint)
            sock.connect(endpoint)
        log.info("coordinator_redialled", coordinator=self.control_endpoint)

    @property
    def drops(self) -> dict[str, int]:
        """Frames dropped on both receiving sockets, by reason."""
        total: dict[str, int] = {}
        for decoder in (self.sub_decoder, self.control_decoder):
            for reason, count in decoder.drops.items():
                total[str(reason)] = total.get(str(reason), 0) + count
        return total

    def summary(self) -> dict[str, Any]:
        """The core's figures plus what the sockets counted."""
        figures = self.core.summary()
        drops = self.drops
        figures["dropped"] = sum(drops.values())
        figures["drops"] = drops
        figures["unsent_control"] = self.unsent
        figures["missing"] = (
            self.sub_decoder.sequence.missing if self.sub_decoder.sequence else 0
        )
        figures.update(self.cost())
        figures["latency"] = self.delays.figures()
        figures["latency_steady"] = self.steady_delays.figures()
        figures["hub"] = (
            {
                "batches": self.hub_batches,
                "dropped": self.hub_dropped,
                "stale_rows": self.hub_stale,
            }
            if self.hub_sub is not None
            else None
        )
        figures["loss"] = self.loss.figures()
        return figures

    def cost(self) -> dict[str, Any]:
        """CPU seconds (all, and while stepping), CPU share and memory."""
        cpu = cpu_seconds()
        figures: dict[str, Any] = {"cpu_s": cpu, "rss_peak_mb": peak_rss_mb()}
        if self.active_since is not None:
            until = self.active_until or time.monotonic()
            active_s = max(until - self.active_since, 1e-9)
            figures["active_s"] = active_s
            figures["cpu_active_s"] = cpu - self.cpu_at_active
            figures["cpu_share"] = (cpu - self.cpu_at_active) / active_s
        figures["memory"] = memory_mb()
        return figures

    def close(self) -> None:
        """Close the sockets with the configured linger."""
        for sock in (self.pub, self.sub, self.dealer):
            sock.close(linger=self.net.linger_ms)
        for sock, _ in self.dialled.values():
            sock.close(linger=0)
        if self.hub_sub is not None:
            self.hub_sub.close(linger=0)
        self.guard.close()
        self.ctx.term()


def write_summary(path: Path, figures: dict[str, Any]) -> None:
    """Write the node's final figures as JSON (whole or not at all)."""
    write_text_atomic(path, json.dumps(figures, indent=1))


def write_history(path: Path, rows: list[tuple[float, ...]]) -> None:
    """Write the node's per-step trajectory as CSV."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HISTORY_COLUMNS)
        for row in rows:
            writer.writerow([repr(x) if isinstance(x, float) else x for x in row])
