"""sniff and the metrics endpoint against a running network of real processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from entro_net.protocol import as_dict, decode
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


JS_DIR = Path(__file__).resolve().parent.parent / "js"


def js_packages() -> str:
    """The node binary, with tests/js's packages installed (`npm ci`)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the JavaScript subscriber")
    if not (JS_DIR / "node_modules" / "zeromq").exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return node


def test_a_javascript_subscriber_decodes_live_traffic_as_we_do(
    live_network: Network,
) -> None:
    node = js_packages()
    proc = subprocess.run(
        [node, "subscriber.mjs", live_network.control, "200", "30"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 200
    for line in lines:
        frame = bytes.fromhex(line.pop("frame"))
        assert line == as_dict(decode(frame))
    types = {line["type"] for line in lines}
    assert {"state", "heartbeat", "threshold", "membership"} <= types
    senders = {line["node"] for line in lines if line["type"] == "state"}
    assert senders == {f"node-{i}" for i in range(NODES)}
