"""The node's decisions, sans-IO: messages and the time in, messages out.

Theory of operation. A node starts, says hello to the coordinator (again and
again, with backoff, until a welcome comes), learns its peers and its index
from the welcome and the membership messages, and starts stepping at the
``since`` its own member entry gives. It then runs one of two clocks:

- ``lockstep``: round k opens with the node's raw reading of step k, which it
  publishes; the round closes when every peer that takes part from k on has
  delivered its round-k reading, or when ``lockstep_wait_s`` has passed.
  Then MODEL.md §2 runs on the whole reading vector (ordered by node index)
  with the same ``network_step`` the simulator uses, and the node keeps its
  own row. Every node and the simulator compute the same numbers.
- ``free``: the node steps at its own rate, on the freshest peer readings
  whose age on its own clock is under ``staleness_s``, the coordinator's
  θ_net and its isolation decisions (by epoch). The ticks lie on a grid of
  the shared clock, so a host's nodes publish together and their states
  travel in one burst. A node computes each step ``FREE_PREPARE_AT`` of a
  period after the last tick, between the bursts, and publishes it when its
  tick is due: the computation is off the path from publish to receipt.

Without the coordinator a node keeps stepping on its last θ_net and applies
the isolation rule to the readings it sees itself; it says hello again with
backoff and rejoins when a coordinator answers.

The socket loop (``entro_net.node.process``) feeds this class what arrives,
calls ``tick`` and sends what ``drain`` returns. Nothing here reads a clock,
touches a socket or logs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from entro_net.config import (
    FREE_PREPARE_AT,
    MAX_NODE_INDEX,
    MAX_STEP,
    PSI_TARGET,
    WEIGHTS_START,
    Clock,
    ModelConfig,
    NetworkConfig,
    model_fingerprint,
)
from entro_net.model.aew import AewState, aew_step
from entro_net.model.isolation import DecisionKind, IsolationView
from entro_net.model.network import NetworkState, network_step, sync_readings
from entro_net.model.sync import SeedLawState
from entro_net.model.threshold import clip_theta
from entro_net.node.source import NodeSource
from entro_net.node.vectors import ReadingRule, widen_network
from entro_net.protocol import (
    Heartbeat,
    Hello,
    Isolate,
    Leave,
    Membership,
    MemberStatus,
    Message,
    MessageType,
    NodeState,
    Readmit,
    Sequencer,
    State,
    Threshold,
    Welcome,
)
from entro_net.protocol.grid import next_on_grid

Array = NDArray[np.float64]
CONFIG_MISMATCH = "config_mismatch"
"""The leave reason of a node whose model config is not its coordinator's."""
IDLE_WAKE_S = 0.2
"""Longest the loop sleeps with nothing due: how soon it sees a stop flag
set by a signal (the poll resumes after one). Each wake-up costs system
calls on every socket, so not much shorter than this."""
SILENT_AFTER_ROUNDS = 2
"""Rounds a peer may miss in a row before a lockstep node stops waiting for it."""
RESYNC_AFTER_ROUNDS = 2
"""A lockstep node whose round no peer delivered, while every peer it waits
for is at least this many rounds further, jumps to the peers' round (it was
paused or cut off: the rounds in between are closed and never resent)."""


class Phase(StrEnum):
    """Where the node is in its life."""

    STARTING = "starting"
    JOINING = "joining"
    ACTIVE = "active"
    ISOLATED = "isolated"
    LEAVING = "leaving"
    DONE = "done"


@dataclass
class Peer:
    """What a node knows about one peer."""

    node: str
    endpoint: str
    incarnation: int
    index: int | None
    since: int | None
    status: MemberStatus = MemberStatus.ALIVE
    left: bool = False
    said_leave: bool = False
    silent: bool = False
    missed: int = 0
    max_step: int = -1
    latest: State | None = None
    arrived: float = 0.0
    key: str | None = None
    """Its CURVE public key, as the coordinator vouches (secure networks)."""


@dataclass
class Outbox:
    """What the socket loop must do after a call into the core."""

    publish: list[Message] = field(default_factory=list)
    control: list[Message] = field(default_factory=list)
    connect: list[str] = field(default_factory=list)
    disconnect: list[str] = field(default_factory=list)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    redial: bool = False
    """Dial the coordinator afresh: close both links and connect again, so a
    name that now resolves to another address is looked up again."""


@dataclass(frozen=True)
class NodeSettings:
    """Who the node is and how it runs."""

    node_id: str
    incarnation: int
    endpoint: str
    index: int | None = None
    clock: Clock = Clock.FREE
    rate_hz: float = 20.0
    steps: int | None = None
    seed: int = 0
    network_size: int = 0
    repeat: int = 0
    record: bool = False


SourceFactory = Callable[[int], NodeSource]


class NodeCore:
    """One node's state machine and model steps.

    Args:
        model: the model configuration (must match the coordinator's).
        net: network timings and bounds.
        settings: identity, clock, stop condition, stream key.
        make_source: builds the node's reading source once its index is known.
        now: the current time in seconds (any monotonic clock).
    """

    def __init__(
        self,
        model: ModelConfig,
        net: NetworkConfig,
        settings: NodeSettings,
        make_source: SourceFactory,
        now: float,
    ) -> None:
        self.model = model
        self.fingerprint = model_fingerprint(model)
        self.net = net
        self.settings = settings
        self.node_id = settings.node_id
        self.index = settings.index
        self._make_source = make_source
        self.source: NodeSource | None = None
        self.phase = Phase.STARTING
        self.outbox = Outbox()
        self.sequencer = Sequencer()

        self.peers: dict[str, Peer] = {}
        self.coordinator_id: str | None = None
        self.coordinator_incarnation: int | None = None
        self.welcomed = False
        self.coordinator_seen = -float("inf")
        self.hello_due = now
        self.hello_backoff = net.hello_retry_s
        self.unanswered_since: float | None = None  # first hello not answered
        self.redialled = now
        self.heartbeat_due = now
        self.since: int | None = None
        self.started = False
        self.step = 0
        self.steps_done = 0
        self.skipped = 0
        """Lockstep rounds jumped over when resyncing to the network's round."""
        self.leave_reason: str | None = None
        self.final_phase = Phase.JOINING

        self.view = IsolationView()
        self.rule = ReadingRule(model)
        self.theta_net = float(clip_theta(model.theta_base))
        self.start_weights: tuple[float, float, float] | None = None
        self.aew = AewState.start((1, 1), model.beta)
        self.network = NetworkState.start(1, 1, model)
        self.seed_law = SeedLawState.start(1)
        self.psi = float("nan")
        self.psi_raw = float("nan")
        self.error = 0.0
        self.delta = 0.0
        self.isolated = False
        self.var = 0.0
        self.v_net = 0.0
        self.sent = 0
        self.received = 0
        self.history: list[tuple[float, ...]] = []

        self.rounds: dict[int, dict[str, float]] = {}
        self.round_opened = 0.0
        self.resend_due = 0.0
        self.recent_states: deque[State] = deque(maxlen=2)
        self.next_tick = 0.0
        self.prepare_due = 0.0
        self.prepared: State | None = None
        """The free clock's next state, computed and waiting for its tick
        (its seq and ts are set when it goes out)."""
        self.prepared_row: tuple[float, ...] = ()
        self.overruns = 0
        self.ignored_decisions = 0
        """Coordinator messages (decisions, θ_net, membership) that came on a
        peer's PUB and were ignored: only the coordinator decides."""

    # --- helpers -----------------------------------------------------------

    def _event(self, level: str, name: str, **fields: Any) -> None:
        self.outbox.events.append((level, name, fields))

    def _header(self, kind: MessageType, now: float) -> dict[str, Any]:
        return {
            "node": self.node_id,
            "incarnation": self.settings.incarnation,
            "seq": self.sequencer.next_seq(kind),
            "ts": now,
        }

    def _publish(self, msg: Message) -> None:
        self.outbox.publish.append(msg)
        self.sent += 1

    def _control(self, msg: Message) -> None:
        self.outbox.control.append(msg)
        self.sent += 1

    def drain(self) -> Outbox:
        """Hand over what the socket loop must send, dial and log."""
        out, self.outbox = self.outbox, Outbox()
        return out

    @property
    def weights(self) -> tuple[float, float, float]:
        """The node's weights now."""
        w = self.aew.weights[0, 0]
        return (float(w[0]), float(w[1]), float(w[2]))

    @property
    def node_state(self) -> NodeState:
        """The state a heartbeat reports."""
        if self.phase in (Phase.LEAVING, Phase.DONE):
            return NodeState.LEAVING
        if not self.started:
            return NodeState.JOINING
        return NodeState.ISOLATED if self.isolated else NodeState.ACTIVE

    @property
    def is_done(self) -> bool:
        """Whether the node has left and the loop may stop."""
        return self.phase is Phase.DONE

    @property
    def coordinator_present(self) -> bool:
        """Whether the node has a live welcome from a coordinator."""
        return self.welcomed

    def is_vouched(self, key: str) -> bool:
        """Whether ``key`` is a peer's, as the coordinator's membership says."""
        return any(peer.key == key for peer in self.peers.values())

    def peer_key(self, endpoint: str) -> str | None:
        """The CURVE key of the peer whose PUB is ``endpoint`` (None: unknown)."""
        for peer in self.peers.values():
            if peer.endpoint == endpoint:
                return peer.key
        return None

    # --- input -------------------------------------------------------------

    def handle(
        self,
        msg: Message,
        now: float,
        *,
        control: bool = False,
        from_peer: bool = False,
    ) -> None:
        """Take one decoded message.

        ``control``: it came on the DEALER; ``from_peer``: on a peer's PUB,
        where decisions, θ_net and membership are never taken from.
        """
        self.received += 1
        if isinstance(msg, State):
            self._on_state(msg, now)
        elif isinstance(msg, Welcome):
            if control:
                self._on_welcome(msg, now)
        elif isinstance(msg, Heartbeat):
            self._on_heartbeat(msg, now, control)
        elif isinstance(msg, Leave):
            self._on_peer_leave(msg)
        elif from_peer:
            self._ignore_from_peer(msg)
        elif msg.node != self.coordinator_id or not self.welcomed:
            return
        elif msg.incarnation != self.coordinator_incarnation:
            self._other_coordinator(msg.incarnation, now)
        elif isinstance(msg, Membership):
            self.coordinator_seen = now
            self._on_membership(msg)
        elif isinstance(msg, Threshold):
            self.coordinator_seen = now
            if self.settings.clock is Clock.FREE:
                self.theta_net = float(msg.theta_net)
        elif isinstance(msg, Isolate | Readmit):
            self.coordinator_seen = now
            kind = (
                DecisionKind.ISOLATE
                if isinstance(msg, Isolate)
                else DecisionKind.READMIT
            )
            if self.view.apply(kind, msg.target, msg.epoch):
                self._event(
                    "info",
                    "peer_isolated"
                    if kind is DecisionKind.ISOLATE
                    else "peer_readmitted",
                    target=msg.target,
                    step=msg.step,
                    epoch=msg.epoch,
                )

    def _ignore_from_peer(self, msg: Message) -> None:
        self.ignored_decisions += 1
        if self.ignored_decisions in (1, 10, 100, 1000) or not (
            self.ignored_decisions % 10_000
        ):
            self._event(
                "warning",
                "decision_ignored",
                sender=msg.node,
                type=msg.kind.label,
                count=self.ignored_decisions,
                reason="only the coordinator's own sockets carry its decisions",
            )

    def _on_heartbeat(self, msg: Heartbeat, now: float, control: bool) -> None:
        if not control:
            return
        self.coordinator_seen = now
        if msg.incarnation != self.coordinator_incarnation:
            # A coordinator that does not know us (it restarted): say hello now.
            self.welcomed = False
            self.hello_due = min(self.hello_due, now)

    def _other_coordinator(self, incarnation: int, now: float) -> None:
        # The event stream of another coordinator process than the one that
        # welcomed us: keep our θ_net and isolation view until it welcomes us.
        if self.coordinator_incarnation is None:
            return
        if incarnation > self.coordinator_incarnation:
            self.welcomed = False
            self.hello_due = min(self.hello_due, now)
            self._event("info", "coordinator_restarted", incarnation=incarnation)

    def _on_welcome(self, msg: Welcome, now: float) -> None:
        if (
            msg.config_fingerprint is not None
            and msg.config_fingerprint != self.fingerprint
        ):
            # Joining would mix two models in one network: refuse, loudly.
            self._event(
                "error",
                "config_mismatch",
                coordinator=msg.node,
                theirs=msg.config_fingerprint,
                ours=self.fingerprint,
                hint="start this node with the coordinator's model flags or "
                "ENTRO_NET_* variables (--law, --kappa, --theta-base, ...)",
            )
            self.leave(now, CONFIG_MISMATCH)
            return
        fresh = msg.incarnation != self.coordinator_incarnation
        self.coordinator_id = msg.node
        self.coordinator_incarnation = msg.incarnation
        self.coordinator_seen = now
        self.welcomed = True
        self.hello_backoff = self.net.hello_retry_s
        self.unanswered_since = None
        if fresh:
            self.view = IsolationView()
            for node in msg.isolated:
                self.view.isolated.add(node)
                self.view.node_epoch[node] = msg.epoch
            self.view.epoch = msg.epoch
        elif msg.epoch > self.view.epoch:
            self._catch_up(msg)
        if self.index is None and msg.index is not None:
            self.index = msg.index
        if not self.started or self.settings.clock is Clock.FREE:
            self.theta_net = float(msg.theta_net)
        if not self.started and msg.weights is not None and self.model.transfer:
            self.start_weights = (msg.weights[0], msg.weights[1], msg.weights[2])
        for info in msg.peers:
            self._learn_peer(
                info.node, info.endpoint, info.incarnation, info.index, key=info.key
            )
        if self.phase is Phase.STARTING:
            self.phase = Phase.JOINING
        self._event(
            "info",
            "welcomed",
            coordinator=msg.node,
            step=msg.step,
            theta_net=msg.theta_net,
            peers=len(msg.peers),
            isolated=list(msg.isolated),
            weights=None if msg.weights is None else list(msg.weights),
            index=self.index,
            rejoin=self.started,
        )

    def _catch_up(self, msg: Welcome) -> None:
        """Take the decisions we missed (cut off when they were made) from a
        welcome: it holds every decision up to its epoch."""
        missed = set(msg.isolated) ^ self.view.isolated
        for node in sorted(missed):
            kind = (
                DecisionKind.ISOLATE if node in msg.isolated else DecisionKind.READMIT
            )
            self.view.apply(kind, node, msg.epoch)
        self.view.epoch = max(self.view.epoch, msg.epoch)
        self._event(
            "info",
            "isolation_caught_up",
            epoch=msg.epoch,
            changed=sorted(missed),
            isolated=sorted(self.view.isolated),
        )

    def _learn_peer(
        self,
        node: str,
        endpoint: str,
        incarnation: int,
        index: int | None,
        since: int | None = None,
        status: MemberStatus = MemberStatus.ALIVE,
        key: str | None = None,
    ) -> Peer | None:
        if node == self.node_id:
            return None
        if index is not None and index > MAX_NODE_INDEX:
            index = None  # a column that far out would cost every step memory
        peer = self.peers.get(node)
        if peer is not None and incarnation < peer.incarnation:
            return peer
        if (
            peer is None
            or incarnation > peer.incarnation
            or peer.endpoint != endpoint
            or (key is not None and peer.key != key)
        ):
            if peer is not None:
                self.outbox.disconnect.append(peer.endpoint)
            peer = Peer(node, endpoint, incarnation, index, since, status, key=key)
            self.peers[node] = peer
            self.rule.forget(node)
            self.outbox.connect.append(endpoint)
            self._event("info", "peer_joined", peer=node, endpoint=endpoint)
        elif peer.left and not peer.said_leave:
            peer.left = False
            self.outbox.connect.append(endpoint)
            self._event("info", "peer_back", peer=node)
        peer.index = index if index is not None else peer.index
        peer.since = since if since is not None else peer.since
        peer.status = status
        return peer

    def _on_membership(self, msg: Membership) -> None:
        listed = set()
        for member in msg.members:
            listed.add(member.node)
            if member.node == self.node_id:
                if member.incarnation == self.settings.incarnation:
                    if self.index is None and member.index is not None:
                        self.index = member.index
                    if member.since is not None and self.since is None:
                        self.since = member.since
                continue
            self._learn_peer(
                member.node,
                member.endpoint,
                member.incarnation,
                member.index,
                member.since,
                member.status,
                key=member.key,
            )
        if self.settings.clock is Clock.LOCKSTEP:
            # A lockstep round stops waiting for a peer on its own leave (which
            # comes after its last state), its death or its silence; a list
            # without it may overtake its last state.
            return
        for node, peer in list(self.peers.items()):
            if node not in listed and not peer.left:
                peer.left = True
                self.outbox.disconnect.append(peer.endpoint)
                self._event("info", "peer_left", peer=node, via="membership")

    def _on_peer_leave(self, msg: Leave) -> None:
        peer = self.peers.get(msg.node)
        if peer is None or msg.incarnation < peer.incarnation or peer.left:
            return
        peer.left = True
        peer.said_leave = True
        self._event("info", "peer_left", peer=msg.node, reason=msg.reason)

    def _on_state(self, msg: State, now: float) -> None:
        peer = self.peers.get(msg.node)
        if peer is None or msg.incarnation != peer.incarnation:
            return
        if msg.step > MAX_STEP:
            self._event("warning", "state_rejected", peer=msg.node, step=msg.step)
            return
        if peer.latest is None:
            self._event("info", "peer_heard", peer=msg.node, step=msg.step)
        peer.latest = msg
        peer.arrived = now
        peer.max_step = max(peer.max_step, msg.step)
        if peer.said_leave:
            return
        if peer.silent and msg.step + 1 < self.step:
            # A silent peer far behind (it was paused) counts again once it
            # caught up with our round: its old rounds are closed here.
            return
        if peer.silent:
            peer.silent = False
            self._event("info", "peer_heard_again", peer=msg.node, step=msg.step)
        peer.missed = 0
        if self.settings.clock is Clock.LOCKSTEP:
            if msg.step >= self.step:
                self.rounds.setdefault(msg.step, {})[msg.node] = msg.psi_raw
        else:
            for decision in self.rule.observe(msg.node, msg.psi_raw, msg.step):
                self._event(
                    "debug",
                    "local_rule_decision",
                    kind=decision.kind.value,
                    target=decision.node,
                    epoch=decision.epoch,
                )

    # --- time --------------------------------------------------------------

    def next_deadline(self, now: float) -> float:
        """The latest time the loop may call ``tick`` again."""
        due = [self.heartbeat_due, now + IDLE_WAKE_S]
        if not self.welcomed:
            due.append(self.hello_due)
        if self.started and self.settings.clock is Clock.FREE:
            due.append(self.next_tick)
            if self.prepared is None:
                due.append(self.prepare_due)
        if self.started and self.settings.clock is Clock.LOCKSTEP:
            due.append(self.resend_due)
        return min(due)

    def tick(self, now: float) -> None:
        """Do everything that is due at ``now``."""
        if self.phase is Phase.DONE:
            return
        self._keep_contact(now)
        if not self.started:
            self._maybe_start(now)
            return
        if self.settings.clock is Clock.LOCKSTEP:
            self._lockstep(now)
        elif now >= self.next_tick:
            if self.prepared is None:
                self._free_step(now)
            self._send_prepared(now)
            period = 1.0 / self.settings.rate_hz
            self.next_tick += period
            if self.next_tick < now:
                self.overruns += 1
                self.next_tick = self._on_grid(now)
            self.prepare_due = self.next_tick - (1.0 - FREE_PREPARE_AT) * period
        elif self.prepared is None and now >= self.prepare_due:
            self._free_step(now)

    def _on_grid(self, now: float) -> float:
        """The first free-clock tick at or after ``now`` on the shared grid
        (protocol/grid.py): peers drain a tick's states in one wake-up, and
        the hub sends them on in one batch."""
        return next_on_grid(now, self.settings.rate_hz)

    def _keep_contact(self, now: float) -> None:
        silence = self.net.dead_after * self.net.heartbeat_interval_s
        if self.welcomed and now - self.coordinator_seen > silence:
            self.welcomed = False
            self.hello_due = now
            self._event(
                "warning",
                "coordinator_lost",
                silent_s=round(now - self.coordinator_seen, 3),
                theta_net=self.theta_net,
            )
            self._redial(now)
        elif not self.welcomed and now - self.redialled > max(
            silence, self.net.rejoin_backoff_max_s
        ):
            self._redial(now)
        if not self.welcomed and now >= self.hello_due:
            self._send_hello(now)
            self.hello_due = now + self.hello_backoff
            self.hello_backoff = min(
                2.0 * self.hello_backoff, self.net.rejoin_backoff_max_s
            )
            self._warn_unanswered(now)
        if now >= self.heartbeat_due:
            self._send_heartbeat(now)
            self.heartbeat_due = self._next_heartbeat(now)

    def _next_heartbeat(self, now: float) -> float:
        """When to beat next: a free-clock node beats when it computes a step
        (no wake of its own, between the bursts), never later than the
        interval after ``now``."""
        if not self.started:
            return now + self.net.joining_heartbeat_s
        interval = self.net.heartbeat_interval_s
        rate = self.settings.rate_hz
        if self.settings.clock is Clock.FREE and 2.0 / rate <= interval:
            return next_on_grid(now + interval - 1.0 / rate, rate, FREE_PREPARE_AT)
        return now + interval

    def _redial(self, now: float) -> None:
        # A link that went silent may hang on an address that is gone (the
        # coordinator moved behind the same name): dial it afresh.
        self.outbox.redial = True
        self.redialled = now

    def _warn_unanswered(self, now: float) -> None:
        # Say so (once per backoff period) while the coordinator stays silent
        # for longer than it takes to suspect a node.
        if self.unanswered_since is None:
            self.unanswered_since = now
        silent_s = now - self.unanswered_since
        if silent_s >= self.net.suspect_after * self.net.heartbeat_interval_s:
            self._event(
                "warning",
                "coordinator_unanswered",
                coordinator=self.net.coordinator,
                silent_s=round(silent_s, 3),
                retry_in_s=round(self.hello_due - now, 3),
            )

    def _send_hello(self, now: float) -> None:
        hello = Hello(
            **self._header(MessageType.HELLO, now),
            endpoint=self.settings.endpoint,
            weights=self.weights if self.started else None,
            index=self.index,
        )
        self._control(hello)

    def _send_heartbeat(self, now: float) -> None:
        beat = Heartbeat(
            **self._header(MessageType.HEARTBEAT, now),
            step=self.step,
            state=self.node_state,
        )
        self._control(beat)
        self._publish(beat)

    def _maybe_start(self, now: float) -> None:
        if self.since is None or self.index is None:
            return
        self.source = self._make_source(self.index)
        if self.start_weights is not None:
            every = np.ones((1, 1), dtype=bool)
            self.aew.restart(every, np.asarray(self.start_weights), self.model.beta)
            self._event("info", "weights_transferred", weights=list(self.start_weights))
        self.started = True
        self.step = self.since
        self.phase = Phase.ACTIVE
        self.next_tick = self._on_grid(now)
        self._event(
            "info",
            "node_started",
            step=self.step,
            index=self.index,
            clock=self.settings.clock.value,
        )
        if self.settings.clock is Clock.LOCKSTEP:
            self._open_round(now)

    # --- stopping ----------------------------------------------------------

    def _should_stop(self) -> str | None:
        limit = self.settings.steps
        if limit is not None and self.steps_done + self.skipped >= limit:
            return "steps_done"
        if self.source is not None and not self.source.has_reading(self.step):
            return "trace_ended"
        return None

    def leave(self, now: float, reason: str) -> None:
        """Say goodbye on both sockets; the loop may stop after sending."""
        if self.phase in (Phase.LEAVING, Phase.DONE):
            return
        self.final_phase = self.phase if self.started else Phase.JOINING
        self.phase = Phase.LEAVING
        self.leave_reason = reason
        leave = Leave(**self._header(MessageType.LEAVE, now), reason=reason)
        self._publish(leave)
        self._control(leave)
        self.phase = Phase.DONE
        self._event("info", "node_leaving", reason=reason, step=self.step)

    # --- the model step ----------------------------------------------------

    def _state_message(self, now: float, step: int, raw: float) -> State:
        w = self.weights
        psi = raw if np.isnan(self.psi) else self.psi
        return State(
            node=self.node_id,
            incarnation=self.settings.incarnation,
            seq=self.sequencer.next_seq(MessageType.STATE),
            ts=now,
            step=step,
            psi_raw=raw,
            psi=psi,
            error=psi - PSI_TARGET,
            w1=w[0],
            w2=w[1],
            w3=w[2],
            theta_net=self.theta_net,
            isolated=self.isolated,
            delta=self.delta,
        )

    def _learn(self, raw: float, synced: float, network_error: float) -> None:
        assert self.source is not None
        d1, d2 = self.source.settle(raw, synced)
        aew_step(
            self.aew,
            np.asarray([[synced]]),
            np.asarray([[d1]]),
            np.asarray([[d2]]),
            np.asarray([[network_error]]),
            np.ones((1, 1), dtype=bool),
            self.model.eta,
        )
        self.psi_raw = raw
        self.psi = synced
        self.error = synced - PSI_TARGET
        self.delta = synced - raw
        self.phase = Phase.ISOLATED if self.isolated else Phase.ACTIVE

    def _history_row(self) -> tuple[float, ...]:
        return (
            self.step,
            self.psi_raw,
            self.psi,
            *self.weights,
            self.theta_net,
            self.isolated,
        )

    def _count_step(self, row: tuple[float, ...]) -> None:
        """A step went out: record it (``row``) and move to the next."""
        if self.settings.record:
            self.history.append(row)
        self.steps_done += 1
        self.step += 1

    # lockstep ---------------------------------------------------------------

    def _open_round(self, now: float) -> None:
        reason = self._should_stop()
        if reason is not None:
            self.leave(now, reason)
            return
        assert self.source is not None
        raw = self.source.reading(self.step, self.theta_net, self.aew.weights[0, 0])
        self.rounds.setdefault(self.step, {})[self.node_id] = raw
        state = self._state_message(now, self.step, raw)
        self.recent_states.append(state)
        self._publish(state)
        self.round_opened = now
        self.resend_due = now + self.net.lockstep_resend_s

    def _waiting_for(self, step: int) -> list[Peer]:
        got = self.rounds.get(step, {})
        return [
            peer
            for peer in self.peers.values()
            if peer.since is not None
            and peer.since <= step
            and peer.index is not None
            and not peer.left
            and not peer.silent
            and peer.status is not MemberStatus.DEAD
            and peer.node not in got
        ]

    def _lockstep(self, now: float) -> None:
        for _ in range(64):
            if self.phase is Phase.DONE:
                return
            missing = self._waiting_for(self.step)
            # A peer already past this round will not send it again (it was
            # lost before our link came up): waiting for it could never end.
            behind = [p for p in missing if p.max_step <= self.step]
            if missing and not behind and self._resync(now, missing):
                continue
            wait = self.net.lockstep_wait_s
            if (
                missing
                and all(p.max_step == self.step + 1 for p in missing)
                and now - self.round_opened < wait
            ):
                # Our link to them came up after they sent this round (a
                # slow joiner's first round): they wait for us in the next
                # one and resend both of their latest states meanwhile.
                if now >= self.resend_due:
                    self._resend(now)
                return
            if behind and (
                now - self.round_opened < wait
                or any(
                    now - peer.arrived < wait and peer.max_step + 1 >= self.step
                    for peer in behind
                )
            ):
                # A peer that still speaks is behind, not gone: wait for it.
                if now >= self.resend_due:
                    self._resend(now)
                return
            for peer in missing:
                if peer.max_step > self.step:
                    self._event(
                        "warning", "peer_round_lost", peer=peer.node, step=self.step
                    )
            for peer in behind:
                peer.missed += 1
                if peer.missed >= SILENT_AFTER_ROUNDS:
                    peer.silent = True
                self._event(
                    "warning", "peer_missed_round", peer=peer.node, step=self.step
                )
            self._close_round(now)
            self._open_round(now)

    def _resync(self, now: float, missing: list[Peer]) -> bool:
        """Jump to the round the network is in when it left ours behind.

        True when no peer delivered this round and every peer waited for is
        ``RESYNC_AFTER_ROUNDS`` or more ahead: the rounds in between can never
        close with them (peers do not resend closed rounds), so the node goes
        on from the lowest round they are in, like a late joiner, keeping its
        weights and taking that peer's θ_net.
        """
        got = self.rounds.get(self.step, {})
        if any(node != self.node_id for node in got):
            return False
        target = min(peer.max_step for peer in missing)
        if target - self.step < RESYNC_AFTER_ROUNDS:
            return False
        leader = next(p for p in missing if p.max_step == target)
        if leader.latest is not None and leader.latest.step == target:
            self.theta_net = float(leader.latest.theta_net)
        self._event(
            "warning",
            "lockstep_resync",
            step=self.step,
            to_step=target,
            skipped=target - self.step,
        )
        self.skipped += target - self.step
        self.step = target
        for old in [k for k in self.rounds if k < target]:
            del self.rounds[old]
        self._open_round(now)
        return True

    def _resend(self, now: float) -> None:
        for state in list(self.recent_states):
            again = state._replace(
                seq=self.sequencer.next_seq(MessageType.STATE), ts=now
            )
            self._publish(again)
        self.resend_due = now + self.net.lockstep_resend_s

    def _close_round(self, now: float) -> None:
        assert self.index is not None
        step = self.step
        got = self.rounds.pop(step, {})
        for old in [k for k in self.rounds if k < step]:
            del self.rounds[old]
        columns = {self.node_id: self.index}
        for node in got:
            peer = self.peers.get(node)
            if peer is not None and peer.index is not None:
                columns[node] = peer.index
        known = [p.index for p in self.peers.values() if p.index is not None]
        width = max([self.index, *known, *columns.values()]) + 1
        widen_network(self.network, width)
        width = self.network.isolation.isolated.shape[1]
        raw = np.zeros((1, width))
        present = np.zeros((1, width), dtype=bool)
        for node, column in columns.items():
            raw[0, column] = got[node]
            present[0, column] = True

        self.theta_net = float(self.network.theta_net[0])
        outcome = network_step(self.model, self.network, raw, present, step)
        names = {column: node for node, column in columns.items()}
        for decision in outcome.decisions:
            target = names.get(decision.node, str(decision.node))
            self.view.apply(decision.kind, target, decision.epoch)
            self._event(
                "info",
                "isolation_decision",
                kind=decision.kind.value,
                target=target,
                step=step,
                epoch=decision.epoch,
            )
        self.isolated = bool(self.network.isolation.isolated[0, self.index])
        self.var = float(outcome.var[0])
        self.v_net = float(outcome.v_net[0])
        synced = float(outcome.synced[0, self.index])
        self._learn(float(raw[0, self.index]), synced, float(outcome.network_error[0]))
        self._count_step(self._history_row())
        self.theta_net = float(outcome.theta_next[0])

    # free clock -------------------------------------------------------------

    def _is_isolated(self, node: str) -> bool:
        if self.welcomed:
            return self.view.is_isolated(node)
        return self.rule.is_isolated(node)

    def _free_step(self, now: float) -> None:
        """Compute the next step and hold its state for the tick (or leave)."""
        reason = self._should_stop()
        if reason is not None:
            self.leave(now, reason)
            return
        assert self.source is not None and self.index is not None
        raw = self.source.reading(self.step, self.theta_net, self.aew.weights[0, 0])
        self.rule.observe(self.node_id, raw, self.step)

        fresh = [
            peer
            for peer in self.peers.values()
            if peer.latest is not None
            and peer.index is not None
            and not peer.left
            and peer.status is not MemberStatus.DEAD
            and now - peer.arrived < self.net.staleness_s
        ]
        indices = [self.index, *(p.index for p in fresh if p.index is not None)]
        width = max(indices) + 1
        values = np.zeros((1, width))
        taking_part = np.zeros((1, width), dtype=bool)
        self.isolated = self._is_isolated(self.node_id)
        values[0, self.index] = raw
        taking_part[0, self.index] = not self.isolated
        errors = []
        for peer in fresh:
            assert peer.latest is not None and peer.index is not None
            if peer.index == self.index or self._is_isolated(peer.node):
                continue
            values[0, peer.index] = peer.latest.psi_raw
            taking_part[0, peer.index] = True
            errors.append(peer.latest.error)
        synced_all = sync_readings(self.model, values, taking_part, self.seed_law)
        synced = float(synced_all[0, self.index])
        own_error = synced - PSI_TARGET
        network_error = float(np.mean([own_error, *errors]))
        self._learn(raw, synced, network_error)
        self.prepared_row = self._history_row()
        self.prepared = State(
            node=self.node_id,
            incarnation=self.settings.incarnation,
            seq=0,
            ts=now,
            step=self.step,
            psi_raw=raw,
            psi=synced,
            error=own_error,
            w1=self.weights[0],
            w2=self.weights[1],
            w3=self.weights[2],
            theta_net=self.theta_net,
            isolated=self.isolated,
            delta=synced - raw,
        )

    def _send_prepared(self, now: float) -> None:
        """Publish the prepared state, stamped now, and count its step."""
        if self.prepared is None:
            return  # the node is leaving instead
        seq = self.sequencer.next_seq(MessageType.STATE)
        self._publish(self.prepared._replace(seq=seq, ts=now))
        self.prepared = None
        self._count_step(self.prepared_row)

    # --- reporting ---------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The node's final figures (the socket loop adds its drop counts)."""
        phase = self.final_phase if self.phase is Phase.DONE else self.phase
        return {
            "id": self.node_id,
            "index": self.index,
            "incarnation": self.settings.incarnation,
            "state": phase.value,
            "steps": self.steps_done,
            "last_step": self.step - 1 if self.started else None,
            "psi": None if np.isnan(self.psi) else self.psi,
            "psi_raw": None if np.isnan(self.psi_raw) else self.psi_raw,
            "weights": list(self.weights),
            "start_weights": (
                list(self.start_weights)
                if self.start_weights is not None
                else list(WEIGHTS_START)
            ),
            "theta_net": self.theta_net,
            "isolated": self.isolated,
            "sent": self.sent,
            "received": self.received,
            "leave_reason": self.leave_reason,
            "overruns": self.overruns,
            "skipped": self.skipped,
            "ignored_decisions": self.ignored_decisions,
        }
