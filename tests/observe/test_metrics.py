"""The coordinator's Prometheus metrics in memory, read in the text format."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from entro_net.config import Clock, ModelConfig, NetworkConfig
from entro_net.coordinator.core import CoordinatorCore
from entro_net.observe.metrics import CoordinatorMetrics
from entro_net.protocol import Decoder, Hello
from tests.observe.messages import beat, state

MODEL = ModelConfig()


@dataclass
class FakeServer:
    sent: int = 12
    control_decoder: Decoder = field(default_factory=Decoder)
    event_decoder: Decoder = field(default_factory=Decoder)


def scrape(
    metrics: CoordinatorMetrics,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def hello(node: str, index: int) -> Hello:
    return Hello(
        node=node, incarnation=1, seq=0, ts=0.0,
        endpoint=f"tcp://127.0.0.1:{21000 + index}", index=index,
    )  # fmt: skip


def a_network() -> tuple[CoordinatorCore, FakeServer]:
    core = CoordinatorCore(MODEL, NetworkConfig(), Clock.FREE, 0.0)
    for i, node in enumerate(("a", "b", "c")):
        core.on_hello(hello(node, i), node.encode(), 0.0)
        core.on_heartbeat(beat(node, 1), None, 0.0)
    for step in range(6):
        now = 0.05 * step
        core.on_state(state("a", step, psi=0.30, raw=0.30), now)
        core.on_state(state("b", step, psi=0.40, raw=0.40), now)
        core.on_state(state("c", step, psi=1.5, raw=1.5), now)
        core.tick(now)
    server = FakeServer()
    server.event_decoder.feed(b"garbage")
    return core, server


def test_network_figures_match_the_cores() -> None:
    core, server = a_network()
    metrics = CoordinatorMetrics(core, server, interval_s=0.25)

    metrics.update(0.3)
    values = scrape(metrics)

    f = core.figures()
    assert values[("entro_net_theta_net", ())] == f["theta_net"]
    assert values[("entro_net_var", ())] == f["var"]
    assert values[("entro_net_v_net", ())] == f["v_net"]
    assert values[("entro_net_steps_total", ())] == f["steps"]
    assert values[("entro_net_isolation_epoch", ())] == f["epoch"] == 1
    assert values[("entro_net_isolations_total", (("kind", "isolate"),))] == 1
    assert values[("entro_net_isolated_nodes", ())] == 1
    assert values[("entro_net_states_seen_total", ())] == 18
    assert values[("entro_net_messages_sent_total", ())] == 12
    assert (
        values[("entro_net_messages_dropped_total", (("reason", "unknown_type"),))] == 1
    )


def test_per_node_psi_state_and_heartbeat_age() -> None:
    core, server = a_network()
    metrics = CoordinatorMetrics(core, server, interval_s=0.25)

    metrics.update(1.0)
    values = scrape(metrics)

    assert values[("entro_net_node_psi", (("node", "b"),))] == 0.40
    assert values[("entro_net_node_state", (("node", "c"), ("state", "isolated")))] == 1
    assert values[("entro_net_node_state", (("node", "c"), ("state", "active")))] == 0
    assert values[("entro_net_node_state", (("node", "a"), ("state", "active")))] == 1
    assert values[("entro_net_node_heartbeat_age_seconds", (("node", "a"),))] == (
        1.0 - 0.25
    )
    assert values[("entro_net_node_states_total", (("node", "a"),))] == 6
    assert values[("entro_net_node_weight", (("node", "a"), ("weight", "w2")))] == 0.3


def test_a_node_that_left_keeps_its_last_figures_as_left() -> None:
    core, server = a_network()
    metrics = CoordinatorMetrics(core, server, interval_s=0.25)
    metrics.update(0.3)

    core.members.pop("b")
    metrics.update(1.0)
    values = scrape(metrics)

    assert values[("entro_net_node_state", (("node", "b"), ("state", "left")))] == 1
    assert values[("entro_net_node_psi", (("node", "b"),))] == 0.40
    assert ("entro_net_node_heartbeat_age_seconds", (("node", "b"),)) not in values


def test_updates_come_at_most_once_an_interval() -> None:
    core, server = a_network()
    metrics = CoordinatorMetrics(core, server, interval_s=0.25)
    metrics.update(1.0)
    core.states_seen += 5

    metrics.update(1.1)
    assert scrape(metrics)[("entro_net_states_seen_total", ())] == 18
    metrics.update(1.3)
    assert scrape(metrics)[("entro_net_states_seen_total", ())] == 23
