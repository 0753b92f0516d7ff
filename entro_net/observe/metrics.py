"""Prometheus metrics of a coordinator, served over HTTP on ``--metrics-port``.

The coordinator's loop calls ``CoordinatorMetrics.update`` (at most every
``metrics_interval_s``); it reads the core's and the server's figures in the
loop's own thread and builds a fresh list of metric families. The HTTP
thread only ever reads the latest list, so a scrape never races the loop.
The registry is our own (not prometheus_client's global one), so two
coordinators in one process, or a test, do not collide.

Nodes that left keep their last figures with ``state="left"`` (up to
``DEPARTED_KEPT`` of them), so a run's end can still be scraped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)

from entro_net.coordinator.core import CoordinatorCore, MemberRecord
from entro_net.protocol import Decoder, DropReason, MemberStatus

DEPARTED_KEPT = 256
"""Nodes that left whose last figures are still served."""
NODE_STATES = ("joining", "active", "isolated", "leaving", "suspect", "dead", "left")
PREFIX = "entro_net"


class _Server(Protocol):
    sent: int
    control_decoder: Decoder
    event_decoder: Decoder


@dataclass(frozen=True)
class NodeFigures:
    """What the metrics say about one node."""

    node: str
    index: int
    state: str
    step: int | None
    psi: float | None
    psi_raw: float | None
    delta: float | None
    weights: tuple[float, float, float] | None
    heartbeat_age_s: float | None
    states: int


def node_state(core: CoordinatorCore, member: MemberRecord) -> str:
    """One word for a member: dead, suspect, isolated, or its own state."""
    if member.status is MemberStatus.DEAD:
        return "dead"
    if member.status is MemberStatus.SUSPECT:
        return "suspect"
    if member.node in core.isolated:
        return "isolated"
    return member.node_state.value


def node_figures(
    core: CoordinatorCore, member: MemberRecord, now: float
) -> NodeFigures:
    """A member's figures as the coordinator sees them at ``now``."""
    latest = member.latest
    return NodeFigures(
        node=member.node,
        index=member.index,
        state=node_state(core, member),
        step=None if latest is None else latest.step,
        psi=None if latest is None else latest.psi,
        psi_raw=None if latest is None else latest.psi_raw,
        delta=None if latest is None else latest.delta,
        weights=None if latest is None else latest.weights,
        heartbeat_age_s=now - member.last_seen,
        states=member.states,
    )


class CoordinatorMetrics:
    """A collector over the coordinator's figures, refreshed by its loop.

    Args:
        core: the coordinator's decisions and figures.
        server: its sockets (sent and dropped counts).
        interval_s: ``update`` rebuilds the metrics at most this often.
        recorder: an object with ``written`` and ``rotations`` counts, or None.
    """

    def __init__(
        self,
        core: CoordinatorCore,
        server: _Server,
        interval_s: float,
        recorder: Any = None,
    ) -> None:
        self.core = core
        self.server = server
        self.interval_s = interval_s
        self.recorder = recorder
        self.registry = CollectorRegistry(auto_describe=False)
        self.departed: OrderedDict[str, NodeFigures] = OrderedDict()
        self._known: dict[str, MemberRecord] = {}
        self._families: list[Metric] = []
        self._next_update = float("-inf")
        self.registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """What a scrape returns: the families of the latest update."""
        return iter(self._families)

    def update(self, now: float, *, force: bool = False) -> None:
        """Rebuild the metrics from the core (at most every ``interval_s``)."""
        self._catch_departures(now)
        if not force and now < self._next_update:
            return
        self._next_update = now + self.interval_s
        current = {
            m.node: node_figures(self.core, m, now) for m in self.core.members.values()
        }
        nodes = [*self.departed.values(), *current.values()]
        self._families = [*self._network_families(), *_node_families(nodes)]

    def _catch_departures(self, now: float) -> None:
        """Keep the last figures of members the core just forgot.

        Runs on every call (a key comparison); the forgotten member's record
        still holds the last state the core took in.
        """
        members = self.core.members
        if members.keys() == self._known.keys():
            return
        for node, record in self._known.items():
            if node not in members:
                self.departed[node] = replace(
                    node_figures(self.core, record, now),
                    state="left",
                    heartbeat_age_s=None,
                )
        for node in members:
            self.departed.pop(node, None)
        while len(self.departed) > DEPARTED_KEPT:
            self.departed.popitem(last=False)
        self._known = dict(members)
        self._next_update = now  # show the change at once

    def _network_families(self) -> list[Metric]:
        core = self.core
        f = core.figures()
        out: list[Metric] = []
        for name, value, text in (
            ("theta_net", f["theta_net"], "θ_net in force for the next step"),
            ("var", f["var"], "Var of the synced values at the last step"),
            ("var_last100", f["var_last100"], "mean Var over the last 100 steps"),
            ("v_net", f["v_net"], "Lyapunov V_net at the last step"),
            ("step", f["step"], "the network's current step"),
            ("nodes_taking_part", f["n_taking_part"], "nodes in the last step"),
            ("isolated_nodes", len(f["isolated"]), "nodes isolated now"),
            ("isolation_epoch", f["epoch"], "epoch of the last decision"),
        ):
            if value is not None:
                out.append(GaugeMetricFamily(f"{PREFIX}_{name}", text, value=value))
        out.append(
            CounterMetricFamily(
                f"{PREFIX}_steps", "steps the coordinator computed", value=f["steps"]
            )
        )
        members = GaugeMetricFamily(
            f"{PREFIX}_members", "members by status", labels=["status"]
        )
        for status in MemberStatus:
            count = sum(1 for m in core.members.values() if m.status is status)
            members.add_metric([status.value], count)
        out.append(members)
        decisions = CounterMetricFamily(
            f"{PREFIX}_isolations",
            "isolate and readmit decisions",
            labels=["kind"],
        )
        for kind in ("isolate", "readmit"):
            decisions.add_metric(
                [kind], sum(1 for r in core.isolations if r.kind == kind)
            )
        out.append(decisions)
        out.extend(self._message_families())
        return out

    def _message_families(self) -> list[Metric]:
        server = self.server
        received = CounterMetricFamily(
            f"{PREFIX}_messages_received",
            "frames received by the coordinator",
            labels=["socket"],
        )
        received.add_metric(["control"], server.control_decoder.received)
        received.add_metric(["events"], server.event_decoder.received)
        dropped = CounterMetricFamily(
            f"{PREFIX}_messages_dropped",
            "frames the coordinator dropped, by reason",
            labels=["reason"],
        )
        for reason in DropReason:
            count = sum(
                decoder.drops[reason]
                for decoder in (server.control_decoder, server.event_decoder)
            )
            dropped.add_metric([reason.value], count)
        out: list[Metric] = [
            received,
            dropped,
            CounterMetricFamily(
                f"{PREFIX}_messages_sent",
                "messages the coordinator sent",
                value=server.sent,
            ),
            CounterMetricFamily(
                f"{PREFIX}_states_seen",
                "state messages the coordinator took in",
                value=self.core.states_seen,
            ),
        ]
        if self.recorder is not None:
            out.append(
                CounterMetricFamily(
                    f"{PREFIX}_recorded_frames",
                    "frames written to the recording",
                    value=self.recorder.written,
                )
            )
        return out


def _node_families(nodes: Iterable[NodeFigures]) -> list[Metric]:
    rows = list(nodes)
    labels = ["node"]
    psi = GaugeMetricFamily(f"{PREFIX}_node_psi", "a node's synced Ψ", labels=labels)
    raw = GaugeMetricFamily(
        f"{PREFIX}_node_psi_raw", "a node's raw reading", labels=labels
    )
    delta = GaugeMetricFamily(
        f"{PREFIX}_node_delta", "a node's sync correction δ", labels=labels
    )
    step = GaugeMetricFamily(
        f"{PREFIX}_node_step", "the step of a node's last state", labels=labels
    )
    weight = GaugeMetricFamily(
        f"{PREFIX}_node_weight", "a node's weights", labels=["node", "weight"]
    )
    state = GaugeMetricFamily(
        f"{PREFIX}_node_state", "1 for a node's current state", labels=["node", "state"]
    )
    age = GaugeMetricFamily(
        f"{PREFIX}_node_heartbeat_age_seconds",
        "seconds since the coordinator last heard a node",
        labels=labels,
    )
    states = CounterMetricFamily(
        f"{PREFIX}_node_states",
        "state messages the coordinator received from a node",
        labels=labels,
    )
    for row in rows:
        key = [row.node]
        for family, value in ((psi, row.psi), (raw, row.psi_raw), (delta, row.delta)):
            if value is not None:
                family.add_metric(key, value)
        if row.step is not None:
            step.add_metric(key, row.step)
        if row.weights is not None:
            for i, w in enumerate(row.weights, start=1):
                weight.add_metric([row.node, f"w{i}"], w)
        for name in NODE_STATES:
            state.add_metric([row.node, name], 1.0 if row.state == name else 0.0)
        if row.heartbeat_age_s is not None:
            age.add_metric(key, row.heartbeat_age_s)
        states.add_metric(key, row.states)
    return [psi, raw, delta, step, weight, state, age, states]


class MetricsServer:
    """``CoordinatorMetrics`` served on ``http://HOST:PORT/metrics``.

    Args:
        metrics: the collector the coordinator's loop updates.
        host: the address to bind.
        port: the port (0: a free one; see ``self.port``).

    Raises:
        OSError: the port cannot be bound.
    """

    def __init__(self, metrics: CoordinatorMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.httpd, self.thread = start_http_server(
            port, addr=host, registry=metrics.registry
        )
        self.port = int(self.httpd.server_port)

    def close(self) -> None:
        """Stop serving and release the port."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=2.0)
