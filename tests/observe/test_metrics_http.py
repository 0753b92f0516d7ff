"""The metrics endpoint, scraped over HTTP, says what the run's summaries say."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from tests.integration.conftest import wait_exit, wait_for_file
from tests.observe.conftest import FAULTY, a_network
from tests.observe.test_live_network import scrape

pytestmark = pytest.mark.integration

STEPS = 40
NODES = 3
SETTLE_S = 1.0  # a few metrics intervals (0.25 s) after the last message


def test_scraped_metrics_equal_the_coordinator_and_node_summaries(
    tmp_path: Path,
) -> None:
    with a_network(tmp_path) as network:
        summary_path = tmp_path / "coordinator.json"
        ready = network.start_coordinator(
            "--metrics-port", "0", "--summary-json", str(summary_path)
        )
        nodes = [
            network.start_node(
                i,
                "--steps",
                str(STEPS),
                "--trajectory",
                str(tmp_path / f"node-{i}.csv"),
            )
            for i in range(NODES)
        ]
        for node in nodes:
            assert wait_exit(node, 60.0) == 0
        time.sleep(SETTLE_S)

        values = scrape(ready["metrics"])
        assert network.coordinator is not None
        network.coordinator.terminate()
        assert wait_exit(network.coordinator, 15.0) == 0
        summary = wait_for_file(summary_path, 5.0)

    assert values[("entro_net_theta_net", ())] == summary["theta_net"]
    assert values[("entro_net_var", ())] == summary["var"]
    assert values[("entro_net_var_last100", ())] == summary["var_last100"]
    assert values[("entro_net_v_net", ())] == summary["v_net"]
    assert values[("entro_net_steps_total", ())] == summary["steps"]
    for kind in ("isolate", "readmit"):
        count = sum(1 for d in summary["isolations"] if d["kind"] == kind)
        assert values[("entro_net_isolations_total", (("kind", kind),))] == count
    assert values[("entro_net_isolations_total", (("kind", "isolate"),))] >= 1
    seen = summary["coordinator"]
    assert values[("entro_net_states_seen_total", ())] == seen["states_seen"]
    dropped = sum(
        v for (name, _), v in values.items() if name.endswith("dropped_total")
    )
    assert dropped == seen["dropped"]
    for i in range(NODES):
        node = f"node-{i}"
        figures = json.loads((tmp_path / f"{node}.json").read_text())
        assert figures["steps"] == STEPS
        # The node's own trajectory at the step of the last state the
        # coordinator took in (its leave may overtake its last state).
        rows = {
            int(r["step"]): r for r in csv.DictReader((tmp_path / f"{node}.csv").open())
        }
        key = (("node", node),)
        step = int(values[("entro_net_node_step", key)])
        assert step >= figures["last_step"] - 2
        if step == figures["last_step"]:
            assert values[("entro_net_node_psi", key)] == figures["psi"]
        assert values[("entro_net_node_psi", key)] == float(rows[step]["psi"])
        assert values[("entro_net_node_psi_raw", key)] == float(rows[step]["psi_raw"])
        assert values[("entro_net_node_state", (*key, ("state", "left")))] == 1.0
    assert values[("entro_net_node_psi", (("node", f"node-{FAULTY}"),))] == 2.0
