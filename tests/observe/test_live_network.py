"""sniff and the metrics endpoint against a running network of real processes."""

from __future__ import annotations

import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.observe.conftest import FAULTY, NODES, Network, sniff_lines

pytestmark = pytest.mark.integration


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_sniff_prints_k_json_lines_from_the_coordinator_and_every_node(
    live_network: Network,
) -> None:
    lines = sniff_lines(live_network.control, count=150)

    assert len(lines) == 150
    for line in lines:
        assert {"type", "node", "seq", "ts"} <= line.keys()
    senders = {line["node"] for line in lines if line["type"] == "state"}
    assert senders == {f"node-{i}" for i in range(NODES)}
    assert {"threshold", "membership"} <= {line["type"] for line in lines}


def test_sniff_filters_by_type_and_node(live_network: Network) -> None:
    lines = sniff_lines(
        live_network.control, "--type", "state", "--node", "node-2", count=8
    )

    assert [(x["type"], x["node"]) for x in lines] == [("state", "node-2")] * 8
    steps = [x["step"] for x in lines]
    assert steps == sorted(steps)


def test_metrics_over_http_show_every_node_and_the_isolated_one(
    live_network: Network,
) -> None:
    url = live_network.ready["metrics"]
    assert url.startswith("http://127.0.0.1:")
    faulty_isolated = (
        "entro_net_node_state",
        (("node", f"node-{FAULTY}"), ("state", "isolated")),
    )
    deadline = time.monotonic() + 30.0
    values = scrape(url)
    while values.get(faulty_isolated) != 1.0 and time.monotonic() < deadline:
        time.sleep(0.3)
        values = scrape(url)

    for i in range(NODES):
        node = (("node", f"node-{i}"),)
        want = "isolated" if i == FAULTY else "active"
        assert values[("entro_net_node_state", (*node, ("state", want)))] == 1.0
        assert 0.0 <= values[("entro_net_node_heartbeat_age_seconds", node)] < 2.0
        assert values[("entro_net_node_states_total", node)] > 0
    assert values[("entro_net_node_psi", (("node", f"node-{FAULTY}"),))] == 2.0
    assert values[("entro_net_isolations_total", (("kind", "isolate"),))] >= 1
    assert values[("entro_net_isolation_epoch", ())] >= 1
    assert values[("entro_net_members", (("status", "alive"),))] == NODES
    assert values[("entro_net_recorded_frames_total", ())] > 0
    assert 1.0 <= values[("entro_net_theta_net", ())] <= 2.5
