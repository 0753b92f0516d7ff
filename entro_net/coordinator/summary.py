"""The final figures of a run: per node and for the network, as JSON-ready data.

Also matches isolations against labelled anomaly windows when the nodes
replayed traces (``anomaly_windows.json`` beside the CSV files).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from entro_net.coordinator.core import CoordinatorCore
from entro_net.node.stats import merge_histograms, percentile_ms


class _Counted(Protocol):
    sent: int

    @property
    def dropped(self) -> int: ...


def network_summary(core: CoordinatorCore, server: _Counted) -> dict[str, Any]:
    """The network's figures as the coordinator saw them."""
    figures = core.figures()
    return {
        "clock": core.clock.value,
        "steps": figures["steps"],
        "var": figures["var"],
        "var_last100": figures["var_last100"],
        "v_net": figures["v_net"],
        "v_net_not_growing_share": figures["v_net_not_growing_share"],
        "theta_net": figures["theta_net"],
        "n_taking_part": figures["n_taking_part"],
        "isolations": [
            {"node": r.node, "step": r.step, "epoch": r.epoch, "kind": r.kind}
            for r in core.isolations
        ],
        "coordinator": {
            "states_seen": core.states_seen,
            "sent": server.sent,
            "dropped": server.dropped,
        },
        "config": json.loads(core.model.model_dump_json()),
    }


def member_figures(core: CoordinatorCore) -> dict[str, dict[str, Any]]:
    """What the coordinator last saw of each member (a node's own file wins)."""
    out: dict[str, dict[str, Any]] = {}
    for member in core.members.values():
        latest = member.latest
        out[member.node] = {
            "id": member.node,
            "index": member.index,
            "state": member.node_state.value,
            "psi": None if latest is None else latest.psi,
            "psi_raw": None if latest is None else latest.psi_raw,
            "weights": None if latest is None else list(latest.weights),
            "received_by_coordinator": member.states,
        }
    return out


def traffic_summary(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The nodes' own traffic and cost figures, added up over the network.

    Delays are merged bin by bin, so p50/p99 are the network's, not a mean
    of the nodes' percentiles.
    """
    latencies = [n["latency"] for n in nodes if n.get("latency")]
    steady = merge_histograms(
        n["latency_steady"]["bins"] for n in nodes if n.get("latency_steady")
    )
    losses = [n["loss"] for n in nodes if n.get("loss")]
    bins = merge_histograms(lat["bins"] for lat in latencies)
    expected = sum(int(loss["expected"]) for loss in losses)
    received = sum(int(loss["received"]) for loss in losses)
    shares = [float(n["cpu_share"]) for n in nodes if n.get("cpu_share") is not None]
    peaks = [float(n["rss_peak_mb"]) for n in nodes if n.get("rss_peak_mb")]
    maxima = [float(lat["max_ms"]) for lat in latencies if lat.get("max_ms")]
    return {
        "states_received": received,
        "states_expected": expected,
        "loss_pct": 100.0 * (expected - received) / expected if expected else None,
        "latency_p50_ms": percentile_ms(bins, 50.0),
        "latency_p99_ms": percentile_ms(bins, 99.0),
        "latency_max_ms": max(maxima) if maxima else None,
        # From a second after each node heard every peer until it left: the
        # window a bare mesh is measured in (after its ready barrier).
        "steady_latency_p50_ms": percentile_ms(steady, 50.0),
        "steady_latency_p99_ms": percentile_ms(steady, 99.0),
        "steady_latency_count": sum(steady.values()),
        "cpu_share_mean": sum(shares) / len(shares) if shares else None,
        "cpu_share_max": max(shares) if shares else None,
        "rss_peak_mb_max": max(peaks) if peaks else None,
        "latency_bins": bins,
    }


TIME_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")


def parse_time(text: str) -> datetime:
    """A trace or window timestamp (``YYYY-MM-DD HH:MM:SS[.ffffff]``).

    Raises:
        ValueError: neither format matches.
    """
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise ValueError(f"not a timestamp: {text!r}")


def anomaly_report(
    windows_file: Path,
    series_of_node: dict[str, tuple[str, list[str]]],
    isolations: list[dict[str, Any]],
) -> dict[str, Any]:
    """Which isolations fell inside a labelled window, and which windows got none.

    Args:
        windows_file: ``{file name: [[start, end], ...]}``.
        series_of_node: node id → (file name, the series' timestamps by row).
        isolations: the run's decisions (node, step, epoch, kind).
    """
    windows: dict[str, list[list[str]]] = json.loads(windows_file.read_text())
    parsed = {
        name: [(parse_time(a), parse_time(b)) for a, b in spans]
        for name, spans in windows.items()
    }
    hit: set[tuple[str, int]] = set()
    inside: list[dict[str, Any]] = []
    outside: list[dict[str, Any]] = []
    for decision in isolations:
        if decision["kind"] != "isolate" or decision["node"] not in series_of_node:
            continue
        name, stamps = series_of_node[decision["node"]]
        step = int(decision["step"])
        if not 0 <= step < len(stamps):
            continue
        when = parse_time(stamps[step])
        row = {**decision, "file": name, "timestamp": stamps[step]}
        spans = parsed.get(name, [])
        found = [i for i, (a, b) in enumerate(spans) if a <= when <= b]
        if found:
            hit.update((name, i) for i in found)
            inside.append({**row, "window": list(windows[name][found[0]])})
        else:
            outside.append(row)
    replayed = {name for name, _ in series_of_node.values()}
    missed = [
        {"file": name, "window": list(windows[name][i])}
        for name in sorted(replayed)
        for i in range(len(parsed.get(name, [])))
        if (name, i) not in hit
    ]
    total = sum(len(parsed.get(name, [])) for name in replayed)
    return {
        "windows": total,
        "windows_with_isolation": total - len(missed),
        "isolations_in_window": inside,
        "isolations_outside_windows": outside,
        "windows_without_isolation": missed,
    }
