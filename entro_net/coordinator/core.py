"""The coordinator's decisions, sans-IO: events and the time in, messages out.

Theory of operation. Nodes say hello on the control socket; the coordinator
gives each an index (the one it asked for, else the smallest free one),
answers with a welcome snapshot (peers, θ_net, isolation set and epoch, the
active nodes' mean weights, the step) and publishes the membership. A
member is alive while its heartbeats come, suspect after ``suspect_after``
missed ones and dead after ``dead_after``; a dead member stops counting at
once, and a hello with a newer incarnation replaces a member at once.
Every membership message is followed by the latest decision about each
member, again: a subscriber that lost one (a cut link, a full queue)
catches up by the decision's epoch, since a receiver ignores epochs it has.

``snapshot`` and ``restore`` carry membership, θ_net (with the variance
window behind it), the isolation set and its epochs across a restart of the
coordinator process (``--state-file``).

Members take part from their ``since`` step. With ``expect`` set, every
member is held back (``since`` null) until that many joined and were heard
on their PUB sockets, then all start at the same step; a later member
starts a few rounds ahead of the network (``lockstep_join_margin``).

The coordinator sees every state message. With the ``lockstep`` clock it
runs each round's ``network_step`` on the same reading vector the nodes
use, so its Var, V_net, θ_net and isolation decisions (with their epochs)
are theirs. With the ``free`` clock it applies the isolation rule to each
reading as it arrives and, every tick, computes Var and θ_net from the
freshest synced values of the live members that take part.

Nothing here reads a clock, touches a socket or logs: ``drain`` returns
what the server must send, dial and log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import isfinite
from typing import Any

import numpy as np
from numpy.typing import NDArray

from entro_net.config import (
    FREE_THETA_AT,
    MAX_NODE_INDEX,
    MAX_STEP,
    PSI_ABS_MAX,
    Clock,
    ModelConfig,
    NetworkConfig,
    model_fingerprint,
)
from entro_net.model.isolation import DecisionKind
from entro_net.model.network import NetworkState, network_step, v_net
from entro_net.model.sync import masked_var
from entro_net.model.threshold import ThresholdState, clip_theta
from entro_net.node.vectors import ReadingRule, widen_network
from entro_net.protocol import (
    Heartbeat,
    Hello,
    Isolate,
    Leave,
    Member,
    Membership,
    MemberStatus,
    Message,
    MessageType,
    NodeState,
    PeerInfo,
    Readmit,
    Sequencer,
    State,
    Threshold,
    Welcome,
)
from entro_net.protocol.grid import next_on_grid

Array = NDArray[np.float64]
COORDINATOR_ID = "coordinator"
MAX_BUFFERED_ROUNDS = 1024
"""Rounds of readings the coordinator keeps while it waits for one to close."""
SILENT_AFTER_ROUNDS = 2
"""Lockstep rounds a member may miss in a row before no round waits for it
(the nodes' rule: a paused member holds the rounds up no longer)."""
SNAPSHOT_VERSION = 1


@dataclass
class MemberRecord:
    """What the coordinator knows about one member."""

    node: str
    index: int
    endpoint: str
    incarnation: int
    conn: bytes
    joined: float
    last_seen: float
    status: MemberStatus = MemberStatus.ALIVE
    since: int | None = None
    heard_on_pub: bool = False
    said_leave: bool = False
    left_at: float | None = None
    node_state: NodeState = NodeState.JOINING
    latest: State | None = None
    arrived: float = 0.0
    max_step: int = -1
    states: int = 0
    missed: int = 0
    """Lockstep rounds in a row closed without it."""
    silent: bool = False
    """Lockstep: not waited for until it delivers a current round again."""
    key: str | None = None
    """The CURVE key it joined with (secure networks; its id is bound to it)."""


def _bound_to_another_key(member: MemberRecord, key: str | None) -> bool:
    """Whether a live member joined with a CURVE key other than ``key``."""
    return (
        member.key is not None
        and key != member.key
        and member.status is not MemberStatus.DEAD
        and member.left_at is None
    )


@dataclass(frozen=True)
class IsolationRecord:
    """One isolation or readmission, for the summary."""

    node: str
    step: int
    epoch: int
    kind: str


@dataclass
class CoordinatorOutbox:
    """What the server must do after a call into the core."""

    reply: list[tuple[bytes, Message]] = field(default_factory=list)
    publish: list[Message] = field(default_factory=list)
    connect: list[str] = field(default_factory=list)
    disconnect: list[str] = field(default_factory=list)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


class CoordinatorCore:
    """Membership, θ_net, isolation and telemetry of one network.

    Args:
        model: the model configuration every node must share.
        net: network timings and bounds.
        clock: how the nodes step.
        now: the current time in seconds (any monotonic clock).
        expect: hold every member until this many joined (0: no hold).
        incarnation: this coordinator's start number.
        node_id: the id it signs its messages with.
    """

    def __init__(
        self,
        model: ModelConfig,
        net: NetworkConfig,
        clock: Clock,
        now: float,
        *,
        expect: int = 0,
        incarnation: int = 0,
        node_id: str = COORDINATOR_ID,
    ) -> None:
        self.model = model
        self.net = net
        self.clock = clock
        self.expect = expect
        self.node_id = node_id
        self.incarnation = incarnation
        self.fingerprint = model_fingerprint(model)
        self.sequencer = Sequencer()
        self.outbox = CoordinatorOutbox()
        self.members: dict[str, MemberRecord] = {}
        self.started = expect <= 0
        self.membership_due = now

        self.step = 0
        self.origin: int | None = None
        self.latest_round = -1
        self.rounds: dict[int, dict[str, float]] = {}
        self.round_started: dict[int, float] = {}
        self.network = NetworkState.start(1, 1, model)
        self.threshold = ThresholdState.start(1)
        self.rule = ReadingRule(model)
        self.theta_net = float(clip_theta(model.theta_base))
        self.epoch = 0
        self.isolated: set[str] = set()
        self.next_tick = next_on_grid(now, net.rate, FREE_THETA_AT)

        self.var_history: list[float] = []
        self.v_net_history: list[float] = []
        self.theta_history: list[float] = []
        self.n_history: list[int] = []
        self.isolations: list[IsolationRecord] = []
        self.decisions: dict[str, Isolate | Readmit] = {}
        self.states_seen = 0
        self.most_steps = 0
        self.checked: float | None = None
        """When liveness was last checked (a longer gap was our own stall)."""
        """The most steps one member has published (its step − since + 1)."""
        self.refused_hellos = 0
        """Hellos refused for claiming a live member's id from another link."""
        self.link_up: Callable[[bytes], bool] = lambda conn: False
        """Whether a control connection is still open (the server probes its
        ROUTER); without transport knowledge every link counts as gone."""
        self.rejected: dict[str, int] = {}
        """Inputs the math refused, by reason (``out_of_range``, ``non_finite``)."""
        self.changed = True
        """Something a snapshot holds changed since ``changed`` was cleared."""

    # --- helpers -----------------------------------------------------------

    def _event(self, level: str, name: str, **fields: Any) -> None:
        self.outbox.events.append((level, name, fields))

    def _header(self, kind: MessageType, now: float) -> dict[str, Any]:
        return {
            "node": self.node_id,
            "incarnation": self.incarnation,
            "seq": self.sequencer.next_seq(kind),
            "ts": now,
        }

    def drain(self) -> CoordinatorOutbox:
        """Hand over what the server must send, dial and log."""
        out, self.outbox = self.outbox, CoordinatorOutbox()
        return out

    def drain_events(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Hand over only the log events (the rest waits for ``drain``)."""
        events, self.outbox.events = self.outbox.events, []
        return events

    def live(self) -> list[MemberRecord]:
        """Members not dead and not gone, in index order."""
        return sorted(
            (
                m
                for m in self.members.values()
                if m.status is not MemberStatus.DEAD and m.left_at is None
            ),
            key=lambda m: m.index,
        )

    def _free_index(self, wanted: int | None, node: str) -> int:
        taken = {m.index for m in self.members.values() if m.node != node}
        if wanted is not None and wanted > MAX_NODE_INDEX:
            self._event("warning", "index_too_high", node=node, index=wanted)
            wanted = None
        if wanted is not None and wanted not in taken:
            return wanted
        if wanted is not None:
            self._event("warning", "index_taken", node=node, index=wanted)
        index = 0
        while index in taken:
            index += 1
        return index

    def mean_weights(self) -> tuple[float, float, float] | None:
        """Mean weights of the live members that take part (weight transfer)."""
        rows = [
            m.latest.weights
            for m in self.live()
            if m.latest is not None and m.node not in self.isolated
        ]
        if not rows:
            return None
        mean = np.mean(np.asarray(rows, dtype=float), axis=0)
        return (float(mean[0]), float(mean[1]), float(mean[2]))

    # --- control socket ----------------------------------------------------

    def on_hello(
        self, msg: Hello, conn: bytes, now: float, key: str | None = None
    ) -> None:
        """A node starts or restarts: take it in and welcome it.

        ``key`` is the CURVE key the hello came with (secure networks): a
        node id stays bound to the key it joined with while the member lives.
        """
        if msg.node == self.node_id:
            self.refused_hellos += 1
            self._event("warning", "hello_reserved_id", node=msg.node, key=key)
            return
        old = self.members.get(msg.node)
        if old is not None and msg.incarnation < old.incarnation:
            self._event("info", "stale_hello", node=msg.node)
            return
        if old is not None and _bound_to_another_key(old, key):
            self.refused_hellos += 1
            self._event(
                "warning",
                "hello_key_mismatch",
                node=msg.node,
                key=key,
                member_key=old.key,
                hint="another key claims a live member's id; refused",
            )
            return
        if old is not None and self._is_takeover(old, conn):
            self.refused_hellos += 1
            self._event(
                "warning",
                "hello_refused",
                node=msg.node,
                incarnation=msg.incarnation,
                endpoint=msg.endpoint,
                member_endpoint=old.endpoint,
                refused=self.refused_hellos,
                hint="a live member's id from another connection; its own link "
                "is still open and it still heartbeats",
            )
            return
        if old is not None and msg.incarnation == old.incarnation:
            old.conn = conn
            old.key = key
            old.last_seen = now
            old.status = MemberStatus.ALIVE
            self._welcome(old, now)
            return
        if old is not None:
            self._forget(old, "replaced", now)
        index = self._free_index(msg.index, msg.node)
        member = MemberRecord(
            node=msg.node,
            index=index,
            endpoint=msg.endpoint,
            incarnation=msg.incarnation,
            conn=conn,
            joined=now,
            last_seen=now,
            key=key,
        )
        self.members[msg.node] = member
        self.outbox.connect.append(msg.endpoint)
        if msg.weights is not None:
            # A node that already runs (this coordinator restarted) goes on;
            # its first state tells from which step it counts.
            member.node_state = NodeState.ACTIVE
            member.heard_on_pub = True
        elif self.started:
            member.since = self._join_step()
            self._set_origin(member.since)
        self._welcome(member, now)
        self._event(
            "info",
            "member_joined",
            member=msg.node,
            index=index,
            endpoint=msg.endpoint,
            incarnation=msg.incarnation,
            since=member.since,
        )
        self._publish_membership(now)
        if member.since is not None:
            # The joiner's SUB may not hear the event stream yet: tell it too.
            self.outbox.reply.append((conn, self.outbox.publish[-1]))

    def _is_takeover(self, old: MemberRecord, conn: bytes) -> bool:
        """Whether a hello for ``old``'s id from ``conn`` must be refused.

        A node restarted under the same id comes on a new connection after
        its old one closed (its process exited), or after it went quiet: it
        replaces the member at once. A hello from another connection while
        the member is alive and its own connection is still open is another
        process claiming its id. Without CURVE this stops mix-ups and casual
        takeovers, not an attacker who can also cut the real node's link.
        """
        return (
            conn != old.conn
            and bool(old.conn)
            and old.status is MemberStatus.ALIVE
            and old.left_at is None
            and self.link_up(old.conn)
        )

    def _join_step(self) -> int:
        if self.clock is Clock.LOCKSTEP:
            if self.latest_round < 0:
                return 0
            return self.latest_round + self.net.lockstep_join_margin
        return self.step

    def _welcome(self, member: MemberRecord, now: float) -> None:
        peers = tuple(
            PeerInfo(
                node=m.node,
                endpoint=m.endpoint,
                incarnation=m.incarnation,
                index=m.index,
                key=m.key,
            )
            for m in self.live()
            if m.node != member.node
        )
        welcome = Welcome(
            **self._header(MessageType.WELCOME, now),
            step=max(self.step, self.latest_round + 1),
            theta_net=self.theta_net,
            isolated=tuple(sorted(self.isolated)),
            epoch=self.epoch,
            peers=peers,
            weights=self.mean_weights() if self.model.transfer else None,
            config_fingerprint=self.fingerprint,
            index=member.index,
        )
        self.outbox.reply.append((member.conn, welcome))

    def on_heartbeat(self, msg: Heartbeat, conn: bytes | None, now: float) -> None:
        """A member is alive (``conn`` None: the copy on its PUB)."""
        member = self.members.get(msg.node)
        if conn is not None:
            self.outbox.reply.append((conn, self.ack(now)))
        if member is None or msg.incarnation != member.incarnation:
            return
        if conn is None:
            member.heard_on_pub = True
        else:
            member.conn = conn
        member.node_state = msg.state
        self._seen(member, now)

    def ack(self, now: float) -> Heartbeat:
        """The heartbeat the coordinator answers a member's heartbeat with."""
        return Heartbeat(
            **self._header(MessageType.HEARTBEAT, now),
            step=max(self.step, self.latest_round + 1),
            state=NodeState.ACTIVE,
        )

    def _seen(self, member: MemberRecord, now: float) -> None:
        member.last_seen = now
        if member.status is not MemberStatus.ALIVE:
            self._event("info", "member_alive", member=member.node)
            member.status = MemberStatus.ALIVE
            self.membership_due = now

    def on_leave(self, msg: Leave, now: float, *, on_pub: bool = False) -> None:
        """A member says goodbye (on the control socket or its PUB).

        The leave on its PUB comes after its last state, so in lockstep that
        one closes its rounds; the member is forgotten once they are done.
        """
        member = self.members.get(msg.node)
        if member is None or msg.incarnation != member.incarnation:
            return
        if on_pub:
            member.said_leave = True
        if member.left_at is None:
            member.left_at = now
            member.node_state = NodeState.LEAVING
            self.membership_due = now
            self._event("info", "member_left", member=msg.node, reason=msg.reason)
        self._sweep_left(now)

    def _sweep_left(self, now: float) -> None:
        for member in list(self.members.values()):
            if member.left_at is None:
                continue
            rounds_done = member.said_leave and (
                member.latest is None or member.latest.step < self._next_round()
            )
            if (
                self.clock is Clock.FREE
                or rounds_done
                or now - member.left_at > 2.0 * self.net.lockstep_wait_s
            ):
                self._forget(member, "left", now)
                self.membership_due = now

    def _forget(self, member: MemberRecord, reason: str, now: float) -> None:
        self.members.pop(member.node, None)
        self.outbox.disconnect.append(member.endpoint)
        self.rule.forget(member.node)
        if member.node in self.isolated and self.clock is Clock.FREE:
            # Its next incarnation starts clean: say so, or the nodes' views
            # would keep it isolated while this coordinator counts it.
            self._decide(DecisionKind.READMIT, member.node, self.step, now)
        self.isolated.discard(member.node)
        if reason == "left":
            self.decisions.pop(member.node, None)
        self.changed = True
        self._event("debug", "member_forgotten", member=member.node, reason=reason)

    # --- event stream ------------------------------------------------------

    def on_state(self, msg: State, now: float) -> None:
        """A state message seen on a member's PUB."""
        member = self.members.get(msg.node)
        if member is None or msg.incarnation != member.incarnation:
            return
        if not _is_sane(msg) or msg.step > MAX_STEP:
            self._reject("out_of_range", msg.node)
            return
        self.states_seen += 1
        member.latest = msg
        member.arrived = now
        member.max_step = max(member.max_step, msg.step)
        member.states += 1
        member.heard_on_pub = True
        if member.since is not None:
            self.most_steps = max(self.most_steps, msg.step - member.since + 1)
        self._seen(member, now)
        if self.clock is Clock.LOCKSTEP:
            self._lockstep_state(member, msg, now)
            return
        for decision in self.rule.observe(msg.node, msg.psi_raw, msg.step):
            self._decide(decision.kind, decision.node, decision.step, now)

    def _lockstep_state(self, member: MemberRecord, msg: State, now: float) -> None:
        if member.since is None and self.started:
            # A running node met after a restart counts from its next round.
            member.since = msg.step + 1
            self._set_origin(member.since)
        self.latest_round = max(self.latest_round, msg.step)
        if msg.step < self._next_round() or member.since is None:
            return
        member.missed = 0
        member.silent = False
        self.rounds.setdefault(msg.step, {})[msg.node] = msg.psi_raw
        self.round_started.setdefault(msg.step, now)
        while len(self.rounds) > MAX_BUFFERED_ROUNDS:
            oldest = min(self.rounds)
            del self.rounds[oldest]
            self.round_started.pop(oldest, None)

    def _reject(self, reason: str, node: str | None = None) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        self._event("warning", "input_rejected", reason=reason, node=node)

    def _set_origin(self, step: int) -> None:
        if self.origin is None:
            self.origin = step

    def _decide(self, kind: DecisionKind, node: str, step: int, now: float) -> None:
        self.epoch += 1
        if kind is DecisionKind.ISOLATE:
            self.isolated.add(node)
            msg: Isolate | Readmit = Isolate(
                **self._header(MessageType.ISOLATE, now),
                target=node,
                step=step,
                epoch=self.epoch,
            )
        else:
            self.isolated.discard(node)
            msg = Readmit(
                **self._header(MessageType.READMIT, now),
                target=node,
                step=step,
                epoch=self.epoch,
            )
        self.outbox.publish.append(msg)
        self.decisions[node] = msg
        self.changed = True
        self.isolations.append(IsolationRecord(node, step, self.epoch, kind.value))
        self._event(
            "info",
            "node_isolated" if kind is DecisionKind.ISOLATE else "node_readmitted",
            target=node,
            step=step,
            epoch=self.epoch,
        )

    # --- time --------------------------------------------------------------

    def next_deadline(self, now: float) -> float:
        """The latest time the server may call ``tick`` again."""
        due = [self.membership_due, now + 0.05]
        if self.clock is Clock.FREE:
            due.append(self.next_tick)
        return min(due)

    def tick(self, now: float) -> None:
        """Do what is due at ``now``: liveness, start, rounds, θ_net."""
        self._check_liveness(now)
        self._maybe_start(now)
        if self.clock is Clock.LOCKSTEP:
            self._close_rounds(now)
        elif now >= self.next_tick:
            self._free_tick(now)
            self.next_tick += 1.0 / self.net.rate
            if self.next_tick < now:
                self.next_tick = next_on_grid(now, self.net.rate, FREE_THETA_AT)
        self._sweep_left(now)
        if now >= self.membership_due:
            self._publish_membership(now)

    def _check_liveness(self, now: float) -> None:
        beat = self.net.heartbeat_interval_s
        if self.checked is not None and now - self.checked > beat:
            # This process did not run for a while (stopped, starved): the
            # members' messages of that time may still sit in the sockets,
            # so the gap counts as nobody's silence.
            for member in self.members.values():
                member.last_seen += now - self.checked - beat
        self.checked = now
        for member in list(self.members.values()):
            silence = now - member.last_seen
            if silence > self.net.dead_after * beat:
                if member.status is not MemberStatus.DEAD:
                    member.status = MemberStatus.DEAD
                    if self.clock is Clock.LOCKSTEP:
                        self.isolated.discard(member.node)
                    self.membership_due = now
                    self._event("warning", "member_dead", member=member.node)
            elif (
                silence > self.net.suspect_after * beat
                and member.status is MemberStatus.ALIVE
            ):
                member.status = MemberStatus.SUSPECT
                self.membership_due = now
                self._event(
                    "warning",
                    "heartbeat_missed",
                    member=member.node,
                    silent_s=round(silence, 3),
                )

    def _maybe_start(self, now: float) -> None:
        if self.started:
            return
        ready = [m for m in self.live() if m.heard_on_pub]
        if len(ready) < self.expect:
            return
        self.started = True
        start = self._join_step()
        self._set_origin(start)
        for member in self.members.values():
            member.since = start
        self._event("info", "network_started", members=len(self.members), step=start)
        self._publish_membership(now, direct=True)

    def _publish_membership(self, now: float, *, direct: bool = False) -> None:
        members = tuple(
            Member(
                node=m.node,
                endpoint=m.endpoint,
                incarnation=m.incarnation,
                status=m.status,
                index=m.index,
                since=m.since,
                key=m.key,
            )
            for m in sorted(self.members.values(), key=lambda m: m.index)
            if m.left_at is None
        )
        msg = Membership(**self._header(MessageType.MEMBERSHIP, now), members=members)
        self.outbox.publish.append(msg)
        if direct:
            for member in self.members.values():
                self.outbox.reply.append((member.conn, msg))
        else:
            self._repeat_decisions(now)
        self.membership_due = self._next_refresh(now)
        self.changed = True

    def _next_refresh(self, now: float) -> float:
        """When to publish the membership again: on the free clock together
        with θ_net (between the nodes' bursts), never later than the
        interval after ``now``."""
        interval = self.net.membership_interval_s
        rate = self.net.rate
        if self.clock is Clock.FREE and 2.0 / rate <= interval:
            return next_on_grid(now + interval - 1.0 / rate, rate, FREE_THETA_AT)
        return now + interval

    def _repeat_decisions(self, now: float) -> None:
        """Publish the latest decision about each member again, oldest first.

        PUB/SUB loses messages on a cut link or a full queue; a receiver
        applies a decision only when its epoch is newer than what it has for
        that node, so the repeat is harmless where it arrived the first time.
        """
        repeats = [d for node, d in self.decisions.items() if node in self.members]
        for decision in sorted(repeats, key=lambda d: d.epoch):
            kind = (
                MessageType.ISOLATE
                if isinstance(decision, Isolate)
                else (MessageType.READMIT)
            )
            header = self._header(kind, now)
            self.outbox.publish.append(decision.model_copy(update=header))

    # --- lockstep ----------------------------------------------------------

    def _next_round(self) -> int:
        if self.origin is None:
            return 0
        return self.origin + len(self.var_history)

    def _expected(self, step: int) -> list[MemberRecord]:
        return [
            m
            for m in self.members.values()
            if m.since is not None
            and m.since <= step
            and m.status is not MemberStatus.DEAD
            and not m.said_leave
            and not m.silent
        ]

    def _close_rounds(self, now: float) -> None:
        for _ in range(256):
            if not self.started or self.origin is None:
                return
            step = self._next_round()
            got = self.rounds.get(step, {})
            expected = self._expected(step)
            if not expected and not got:
                return
            missing = [m for m in expected if m.node not in got and m.max_step <= step]
            opened = self.round_started.get(step)
            wait = self.net.lockstep_wait_s
            if missing and (
                opened is None
                or now - opened < wait
                or any(
                    now - m.arrived < wait and m.max_step + 1 >= step for m in missing
                )
            ):
                return
            for member in missing:
                member.missed += 1
                member.silent = member.missed >= SILENT_AFTER_ROUNDS
            self._run_round(step, got, now)

    def _run_round(self, step: int, got: dict[str, float], now: float) -> None:
        self.rounds.pop(step, None)
        self.round_started.pop(step, None)
        columns = {
            node: self.members[node].index for node in got if node in self.members
        }
        width = max([m.index for m in self.members.values()] + [0]) + 1
        widen_network(self.network, width)
        width = self.network.isolation.isolated.shape[1]
        raw = np.zeros((1, width))
        present = np.zeros((1, width), dtype=bool)
        for node, column in columns.items():
            raw[0, column] = got[node]
            present[0, column] = True
        outcome = network_step(self.model, self.network, raw, present, step)
        if not _all_finite(outcome.var, outcome.v_net, outcome.theta_next):
            # Bounded inputs cannot get here; never publish what would crash
            # every receiver's validation (and ours).
            self._reject("non_finite")
            self.step = step + 1
            self._record_skipped()
            return
        names = {column: node for node, column in columns.items()}
        for decision in outcome.decisions:
            target = names.get(decision.node)
            if target is not None:
                self.epoch = max(self.epoch, decision.epoch - 1)
                self._decide(decision.kind, target, step, now)
        self.isolated = {
            node
            for node, column in columns.items()
            if self.network.isolation.isolated[0, column]
        }
        self.theta_net = float(outcome.theta_next[0])
        self._record(
            float(outcome.var[0]),
            float(outcome.v_net[0]),
            float(outcome.theta_in_force[0]),
            int(np.sum(outcome.taking_part)),
        )
        self.step = step + 1
        self.outbox.publish.append(
            Threshold(
                **self._header(MessageType.THRESHOLD, now),
                step=step + 1,
                theta_net=self.theta_net,
                var=float(outcome.var[0]),
                v_net=float(outcome.v_net[0]),
                n_taking_part=int(np.sum(outcome.taking_part)),
            )
        )

    def _record_skipped(self) -> None:
        """A round that produced no figures still counts (rounds stay aligned)."""
        self._record(
            self.var_history[-1] if self.var_history else 0.0,
            self.v_net_history[-1] if self.v_net_history else 0.0,
            self.theta_net,
            0,
        )

    def _record(self, var: float, vnet: float, theta: float, n: int) -> None:
        self.var_history.append(var)
        self.v_net_history.append(vnet)
        self.theta_history.append(theta)
        self.n_history.append(n)

    # --- free clock --------------------------------------------------------

    def _free_tick(self, now: float) -> None:
        if not self.started:
            return
        fresh = [
            m
            for m in self.live()
            if m.latest is not None
            and not m.said_leave
            and now - m.arrived < self.net.staleness_s
            and m.node not in self.isolated
        ]
        if not fresh:
            return
        synced = np.asarray([[m.latest.psi for m in fresh if m.latest is not None]])
        mask = np.ones_like(synced, dtype=bool)
        var = masked_var(synced, mask)
        vnet = v_net(synced, mask)
        if not _all_finite(var, vnet):
            self._reject("non_finite")
            return
        theta_in_force = self.theta_net
        self.theta_net = float(
            self.threshold.update(var, self.model.theta_base, self.model.gamma)[0]
        )
        self._record(float(var[0]), float(vnet[0]), theta_in_force, len(fresh))
        self.step += 1
        self.outbox.publish.append(
            Threshold(
                **self._header(MessageType.THRESHOLD, now),
                step=self.step,
                theta_net=self.theta_net,
                var=float(var[0]),
                v_net=float(vnet[0]),
                n_taking_part=len(fresh),
            )
        )

    # --- restart -----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What a restarted coordinator needs to go on, JSON-ready.

        Membership, θ_net and the variance window behind it, the isolation
        set, the epoch and the latest decision about each node.
        """
        return {
            "version": SNAPSHOT_VERSION,
            "fingerprint": self.fingerprint,
            "clock": self.clock.value,
            "incarnation": self.incarnation,
            "started": self.started,
            "step": self.step,
            "theta_net": self.theta_net,
            "threshold": {
                "history": [float(x) for x in self.threshold.history[0]],
                "known": int(self.threshold.known[0]),
            },
            "epoch": self.epoch,
            "isolated": sorted(self.isolated),
            "decisions": [
                {
                    "kind": "isolate" if isinstance(d, Isolate) else "readmit",
                    "target": d.target,
                    "step": d.step,
                    "epoch": d.epoch,
                }
                for d in sorted(self.decisions.values(), key=lambda d: d.epoch)
            ],
            "members": [
                {
                    "node": m.node,
                    "index": m.index,
                    "endpoint": m.endpoint,
                    "incarnation": m.incarnation,
                    "since": m.since,
                    "key": m.key,
                }
                for m in self.members.values()
                if m.left_at is None
            ],
        }

    def restore(self, snapshot: dict[str, Any], now: float) -> bool:
        """Go on from a predecessor's ``snapshot``; False (and nothing changed)
        when it does not fit this network or is malformed.

        Restored members are suspect until they speak: the server dials
        their PUBs at once, and each has ``dead_after`` heartbeats to be heard.
        """
        try:
            restored = _parse_snapshot(snapshot, self)
        except (KeyError, TypeError, ValueError) as exc:
            self._event("warning", "snapshot_unusable", error=str(exc))
            return False
        if restored is None:
            self._event("warning", "snapshot_mismatch", note="other config or clock")
            return False
        self.started = self.started or restored.started
        self.step = restored.step
        self.theta_net = restored.theta_net
        self.threshold.history[0, :] = restored.history
        self.threshold.known[0] = restored.known
        self.epoch = restored.epoch
        for record in restored.members:
            record.joined = record.last_seen = now
            self.members[record.node] = record
            self.outbox.connect.append(record.endpoint)
        for decision in restored.decisions:
            self.decisions[decision.target] = decision
        if self.clock is Clock.FREE:
            self.isolated = set(restored.isolated)
            for node in self.isolated:
                self.rule.mark_isolated(node)
        self._event(
            "info",
            "state_restored",
            members=len(restored.members),
            theta_net=self.theta_net,
            epoch=self.epoch,
            isolated=sorted(self.isolated),
            step=self.step,
        )
        self.membership_due = now
        return True

    # --- reporting ---------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        """The network's figures so far, for status lines and the summary."""
        var = self.var_history
        vnet = self.v_net_history
        tail = var[-100:]
        not_growing = float(np.mean(np.diff(vnet) <= 1e-12)) if len(vnet) > 1 else None
        return {
            "steps": len(var),
            "step": self.step,
            "var": var[-1] if var else None,
            "var_last100": float(np.mean(tail)) if tail else None,
            "v_net": vnet[-1] if vnet else None,
            "v_net_not_growing_share": not_growing,
            "theta_net": self.theta_net,
            "n_taking_part": self.n_history[-1] if self.n_history else 0,
            "members": len(self.members),
            "isolated": sorted(self.isolated),
            "epoch": self.epoch,
            "states_seen": self.states_seen,
            "most_steps": self.most_steps,
        }


@dataclass
class _Restored:
    started: bool
    step: int
    theta_net: float
    history: list[float]
    known: int
    epoch: int
    isolated: list[str]
    decisions: list[Isolate | Readmit]
    members: list[MemberRecord]


def _parse_snapshot(data: dict[str, Any], core: CoordinatorCore) -> _Restored | None:
    """Check a snapshot field by field; None when it is another network's."""
    if data["version"] != SNAPSHOT_VERSION or data["clock"] != core.clock.value:
        return None
    if data["fingerprint"] != core.fingerprint:
        return None
    theta = float(data["theta_net"])
    history = [float(x) for x in data["threshold"]["history"]]
    if len(history) != core.threshold.history.shape[1]:
        raise ValueError("variance window of another length")
    if not all(np.isfinite([theta, *history])):
        raise ValueError("non-finite θ_net or variance")
    decisions: list[Isolate | Readmit] = []
    header: dict[str, Any] = {
        "node": core.node_id,
        "incarnation": core.incarnation,
        "seq": 0,
    }
    for item in data["decisions"]:
        kind = Isolate if item["kind"] == "isolate" else Readmit
        decisions.append(
            kind(
                **header,
                ts=0.0,
                target=item["target"],
                step=int(item["step"]),
                epoch=int(item["epoch"]),
            )
        )
    members = []
    for item in data["members"]:
        peer = PeerInfo(
            node=item["node"],
            endpoint=item["endpoint"],
            incarnation=int(item["incarnation"]),
            index=int(item["index"]),
            key=item.get("key"),
        )
        since = item["since"]
        members.append(
            MemberRecord(
                node=peer.node,
                index=min(int(item["index"]), MAX_NODE_INDEX),
                endpoint=peer.endpoint,
                incarnation=peer.incarnation,
                conn=b"",
                joined=0.0,
                last_seen=0.0,
                status=MemberStatus.SUSPECT,
                # A lockstep member counts again from its next state's round.
                since=(
                    None
                    if since is None or core.clock is Clock.LOCKSTEP
                    else int(since)
                ),
                heard_on_pub=True,
                node_state=NodeState.ACTIVE,
                key=peer.key,
            )
        )
    return _Restored(
        started=bool(data["started"]),
        step=max(0, int(data["step"])),
        theta_net=float(clip_theta(theta)),
        history=history,
        known=max(0, min(int(data["threshold"]["known"]), len(history))),
        epoch=max(0, int(data["epoch"])),
        isolated=[str(node) for node in data["isolated"]],
        decisions=decisions,
        members=members,
    )


def _is_sane(msg: State) -> bool:
    """Whether a state's readings are finite and within the wire bounds.

    The decoder already drops anything else; this keeps the core safe when a
    state reaches it another way (tests, a future transport).
    """
    return all(
        isfinite(x) and -PSI_ABS_MAX <= x <= PSI_ABS_MAX
        for x in (msg.psi_raw, msg.psi, msg.error)
    ) and all(isfinite(w) for w in msg.weights)


def _all_finite(*arrays: NDArray[np.float64] | float) -> bool:
    return all(bool(np.all(np.isfinite(a))) for a in arrays)
