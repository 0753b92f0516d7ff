"""What the live view shows, computed from decoded messages and the time.

Sans-IO like the cores: ``feed`` takes a message and the time it arrived,
``rows`` and ``header`` say what to draw at a given time. ``watch`` feeds it
from the wire, ``replay`` from a recording, so both show the same thing.

A node's state on screen combines what the coordinator says (membership
status, isolate and readmit decisions) with what the watcher itself sees
(silence, the node's own isolated flag and heartbeats), so the view stays
right while the coordinator is away. Messages per second out are what the
watcher received from the node's PUB; messages in are what was published to
it (its live peers' PUB traffic and the coordinator's event stream). Drops
are gaps in the node's sequence numbers as the watcher saw them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from entro_net.config import NetworkConfig
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
    SequenceTracker,
    State,
    Threshold,
    Welcome,
)

RATE_WINDOW_S = 5.0
"""Messages per second are averaged over this window."""
MIN_RATE_SPAN_S = 1.0
"""A rate is never averaged over less than this (no spikes at the start)."""
VAR_HISTORY = 60
"""Var values kept for the sparkline."""
FORGET_LEFT_AFTER_S = 30.0
"""A node that left (or is dead and no longer a member) leaves the screen."""
AWAY_AFTER_INTERVALS = 3.0
"""The coordinator is away after this many silent membership intervals."""

COORDINATOR_TYPES = frozenset(
    {
        MessageType.THRESHOLD,
        MessageType.ISOLATE,
        MessageType.READMIT,
        MessageType.MEMBERSHIP,
        MessageType.WELCOME,
    }
)
"""Message types only the coordinator sends."""


class RowState(StrEnum):
    """A node's state on screen."""

    JOINING = "joining"
    ACTIVE = "active"
    ISOLATED = "isolated"
    SUSPECT = "suspect"
    DEAD = "dead"
    LEFT = "left"


@dataclass(frozen=True)
class NodeRow:
    """One node's line of the live view."""

    node: str
    index: int | None
    state: RowState
    step: int | None
    psi: float | None
    psi_raw: float | None
    delta: float | None
    weights: tuple[float, float, float] | None
    rate_in: float
    rate_out: float
    drops: int
    age_s: float | None


@dataclass(frozen=True)
class Header:
    """The network's line above the rows."""

    step: int | None
    theta_net: float | None
    var: float | None
    v_net: float | None
    n_taking_part: int | None
    epoch: int | None
    isolated: tuple[str, ...]
    members: int
    var_history: tuple[float, ...]
    coordinator_age_s: float | None
    is_coordinator_away: bool
    messages: int
    undecodable: int


class _Rate:
    """Arrival times within a sliding window."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.times: deque[float] = deque()
        self.first: float | None = None

    def add(self, now: float) -> None:
        if self.first is None:
            self.first = now
        self.times.append(now)

    def per_second(self, now: float) -> float:
        while self.times and self.times[0] < now - self.window_s:
            self.times.popleft()
        if self.first is None:
            return 0.0
        span = max(min(self.window_s, now - self.first), MIN_RATE_SPAN_S)
        return len(self.times) / span


@dataclass
class _Track:
    """What the view knows about one node."""

    node: str
    rate: _Rate
    shown: bool = False
    index: int | None = None
    incarnation: int = -1
    latest: State | None = None
    beat: NodeState | None = None
    status: MemberStatus | None = None
    since_known: bool = False
    is_member: bool = False
    last_seen: float | None = None
    left_at: float | None = None
    decision: tuple[bool, int] | None = None
    drops: int = 0


@dataclass
class _Network:
    """The coordinator's figures as last heard."""

    step: int | None = None
    theta_net: float | None = None
    var: float | None = None
    v_net: float | None = None
    n_taking_part: int | None = None
    epoch: int | None = None
    incarnation: int = -1
    last_seen: float | None = None
    var_history: deque[float] = field(default_factory=lambda: deque(maxlen=VAR_HISTORY))


class NetworkView:
    """The live view's model: decoded messages in, rows and a header out.

    Args:
        suspect_after_s: a node silent this long shows as suspect.
        dead_after_s: a node silent this long shows as dead.
        away_after_s: the coordinator silent this long shows as away.
        rate_window_s: messages per second are averaged over this window.
    """

    def __init__(
        self,
        *,
        suspect_after_s: float,
        dead_after_s: float,
        away_after_s: float,
        rate_window_s: float = RATE_WINDOW_S,
    ) -> None:
        self.suspect_after_s = suspect_after_s
        self.dead_after_s = dead_after_s
        self.away_after_s = away_after_s
        self.rate_window_s = rate_window_s
        self.tracks: dict[str, _Track] = {}
        self.network = _Network()
        self.coordinator_rate = _Rate(rate_window_s)
        self.coordinators: set[str] = set()
        self.sequence = SequenceTracker()
        self.messages = 0
        self.undecodable = 0

    @classmethod
    def from_config(cls, net: NetworkConfig) -> NetworkView:
        """A view whose timeouts are the coordinator's (NetworkConfig)."""
        beat = net.heartbeat_interval_s
        return cls(
            suspect_after_s=net.suspect_after * beat,
            dead_after_s=net.dead_after * beat,
            away_after_s=AWAY_AFTER_INTERVALS * net.membership_interval_s,
        )

    # --- input -------------------------------------------------------------

    def count_undecodable(self, frames: int = 1) -> None:
        """Frames that arrived but did not decode (no sender to blame)."""
        self.undecodable += frames

    def feed(self, msg: Message, now: float) -> None:
        """Take in one message that arrived at ``now`` (seconds, any clock).

        Duplicates (a heartbeat seen on two sockets, a message recorded
        twice) and stale or out-of-order messages are ignored; a gap in a
        sender's sequence counts as drops of that sender.
        """
        if not self._is_new(msg):
            return
        self.messages += 1
        if msg.kind in COORDINATOR_TYPES:
            self._from_coordinator(msg, now)
            return
        if msg.node in self.coordinators:
            return
        track = self._track(msg.node)
        track.last_seen = now
        track.rate.add(now)
        if msg.incarnation > track.incarnation:
            track.incarnation = msg.incarnation
            track.left_at = None
        self._from_node(track, msg, now)

    def _is_new(self, msg: Message) -> bool:
        stats = self.sequence.stats(msg.node)
        before = stats.missing if stats is not None else 0
        verdict = self.sequence.observe(msg.node, msg.incarnation, msg.kind, msg.seq)
        if not verdict.is_accepted:
            return False
        stats = self.sequence.stats(msg.node)
        missed = (stats.missing if stats is not None else 0) - before
        if missed > 0 and msg.kind not in COORDINATOR_TYPES:
            self._track(msg.node).drops += missed
        return True

    def _track(self, node: str) -> _Track:
        track = self.tracks.get(node)
        if track is None:
            track = _Track(node=node, rate=_Rate(self.rate_window_s))
            self.tracks[node] = track
        return track

    def _from_node(self, track: _Track, msg: Message, now: float) -> None:
        if isinstance(msg, State):
            track.latest = msg
            track.shown = True
        elif isinstance(msg, Heartbeat):
            track.beat = msg.state
        elif isinstance(msg, Hello):
            track.shown = True
            if msg.index is not None:
                track.index = msg.index
        elif isinstance(msg, Leave):
            track.left_at = now
            track.beat = NodeState.LEAVING

    def _from_coordinator(self, msg: Message, now: float) -> None:
        self.coordinators.add(msg.node)
        self.tracks.pop(msg.node, None)
        net = self.network
        if msg.incarnation > net.incarnation:
            # A restarted coordinator counts its epochs again.
            net.incarnation = msg.incarnation
            net.epoch = None
        net.last_seen = now
        self.coordinator_rate.add(now)
        if isinstance(msg, Threshold):
            net.step = msg.step
            net.theta_net = msg.theta_net
            net.var = msg.var
            net.v_net = msg.v_net
            net.n_taking_part = msg.n_taking_part
            net.var_history.append(msg.var)
        elif isinstance(msg, Isolate | Readmit):
            self._decision(msg)
        elif isinstance(msg, Membership):
            self._membership(msg, now)
        elif isinstance(msg, Welcome):
            net.theta_net = msg.theta_net
            net.epoch = max(net.epoch or 0, msg.epoch)

    def _decision(self, msg: Isolate | Readmit) -> None:
        known = self.network.epoch
        if known is not None and msg.epoch <= known:
            return
        self.network.epoch = msg.epoch
        track = self._track(msg.target)
        track.decision = (isinstance(msg, Isolate), msg.step)

    def _membership(self, msg: Membership, now: float) -> None:
        listed = set()
        for member in msg.members:
            listed.add(member.node)
            track = self._track(member.node)
            track.shown = True
            track.is_member = True
            track.status = member.status
            track.index = member.index
            track.since_known = member.since is not None
            if member.incarnation > track.incarnation:
                track.incarnation = member.incarnation
                track.left_at = None
        for track in self.tracks.values():
            if track.node not in listed:
                track.is_member = False
                track.status = None

    # --- output ------------------------------------------------------------

    def state_of(self, track: _Track, now: float) -> RowState:
        """What the view makes of one node at ``now``."""
        if track.left_at is not None:
            return RowState.LEFT
        silence = None if track.last_seen is None else now - track.last_seen
        if track.status is MemberStatus.DEAD or (
            silence is not None and silence > self.dead_after_s
        ):
            return RowState.DEAD
        if track.status is MemberStatus.SUSPECT or (
            silence is not None and silence > self.suspect_after_s
        ):
            return RowState.SUSPECT
        if self._is_isolated(track):
            return RowState.ISOLATED
        if track.latest is None and (
            track.beat in (None, NodeState.JOINING) or not track.since_known
        ):
            return RowState.JOINING
        return RowState.ACTIVE

    @staticmethod
    def _is_isolated(track: _Track) -> bool:
        latest = track.latest
        if track.decision is not None and (
            latest is None or track.decision[1] >= latest.step
        ):
            return track.decision[0]
        if latest is not None:
            return latest.isolated
        return track.beat is NodeState.ISOLATED

    def _forget_old(self, now: float) -> None:
        for node, track in list(self.tracks.items()):
            quiet = track.last_seen is not None and (
                now - track.last_seen > FORGET_LEFT_AFTER_S
            )
            if quiet and (track.left_at is not None or not track.is_member):
                del self.tracks[node]
                self.sequence.forget(node)

    def rows(self, now: float) -> list[NodeRow]:
        """The nodes to show at ``now``, in index order."""
        self._forget_old(now)
        shown = [t for t in self.tracks.values() if t.shown]
        rates = {t.node: t.rate.per_second(now) for t in shown}
        states = {t.node: self.state_of(t, now) for t in shown}
        live_out = sum(
            rate
            for node, rate in rates.items()
            if states[node] not in (RowState.DEAD, RowState.LEFT)
        )
        coordinator = self.coordinator_rate.per_second(now)
        rows = []
        for track in sorted(shown, key=_order):
            latest = track.latest
            state = states[track.node]
            is_gone = state in (RowState.DEAD, RowState.LEFT)
            own = 0.0 if is_gone else rates[track.node]
            rate_in = 0.0 if is_gone else max(0.0, live_out - own) + coordinator
            rows.append(
                NodeRow(
                    node=track.node,
                    index=track.index,
                    state=state,
                    step=None if latest is None else latest.step,
                    psi=None if latest is None else latest.psi,
                    psi_raw=None if latest is None else latest.psi_raw,
                    delta=None if latest is None else latest.delta,
                    weights=None if latest is None else latest.weights,
                    rate_in=rate_in,
                    rate_out=rates[track.node],
                    drops=track.drops,
                    age_s=None if track.last_seen is None else now - track.last_seen,
                )
            )
        return rows

    def header(self, now: float) -> Header:
        """The network's figures at ``now``."""
        net = self.network
        age = None if net.last_seen is None else now - net.last_seen
        isolated = tuple(
            sorted(
                t.node
                for t in self.tracks.values()
                if t.shown and self.state_of(t, now) is RowState.ISOLATED
            )
        )
        return Header(
            step=net.step,
            theta_net=net.theta_net,
            var=net.var,
            v_net=net.v_net,
            n_taking_part=net.n_taking_part,
            epoch=net.epoch,
            isolated=isolated,
            members=sum(1 for t in self.tracks.values() if t.is_member),
            var_history=tuple(net.var_history),
            coordinator_age_s=age,
            is_coordinator_away=age is None or age > self.away_after_s,
            messages=self.messages,
            undecodable=self.undecodable,
        )


def _order(track: _Track) -> tuple[int, int, str]:
    if track.index is None:
        return (1, 0, track.node)
    return (0, track.index, track.node)
