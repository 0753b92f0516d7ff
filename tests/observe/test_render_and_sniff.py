"""The renderer's pieces and sniff's filters and lines, in memory."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from entro_net.observe.render import live_view, sparkline
from entro_net.observe.sniff import Filter, json_line, parse_types
from entro_net.observe.view import NetworkView
from entro_net.protocol import MemberStatus
from tests.observe.messages import isolate, membership, state, threshold


def test_sparkline_spans_the_blocks_from_lowest_to_highest() -> None:
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
    assert sparkline([2.0, 2.0]) == "▁▁"
    assert sparkline([]) == ""
    assert len(sparkline(list(range(100)), width=10)) == 10


def test_the_screen_shows_the_figures_and_one_line_per_node() -> None:
    view = NetworkView(suspect_after_s=1.5, dead_after_s=4.0, away_after_s=3.0)
    view.feed(membership(0, ("a", 0, MemberStatus.ALIVE)), 0.0)
    view.feed(state("a", 7, psi=0.4321), 0.0)
    view.feed(state("b", 7, psi=1.9), 0.0)
    view.feed(isolate("b", 8, epoch=3), 0.0)
    view.feed(threshold(8, 0.0123), 0.0)
    console = Console(file=io.StringIO(), width=130, color_system=None)

    console.print(live_view(view.header(0.5), view.rows(0.5)))
    screen = console.file.getvalue()  # type: ignore[attr-defined]

    assert "θ_net 1.4123" in screen
    assert "Var 0.012300" in screen
    assert "epoch 3" in screen
    assert "coordinator: connected" in screen
    lines = [line for line in screen.splitlines() if line.startswith("│")]
    assert len(lines) == 2
    assert "a" in lines[0] and "active" in lines[0] and "0.4321" in lines[0]
    assert "b" in lines[1] and "isolated" in lines[1]


def test_parse_types_takes_repeats_and_commas_and_refuses_unknown_names() -> None:
    assert parse_types(["state,threshold", "isolate"]) == {
        "state",
        "threshold",
        "isolate",
    }
    assert parse_types([]) is None
    with pytest.raises(ValueError, match="stat"):
        parse_types(["stat"])


def test_filter_keeps_types_and_nodes_as_sender_or_target() -> None:
    only_b = Filter(nodes=frozenset({"b"}))
    states = Filter(types=frozenset({"state"}))

    assert only_b.keeps(state("b", 1))
    assert not only_b.keeps(state("a", 1))
    assert only_b.keeps(isolate("b", 1, epoch=1))
    assert states.keeps(state("a", 1))
    assert not states.keeps(threshold(1, 0.0))
    assert not Filter(types=frozenset({"threshold"})).needs_members
    assert states.needs_members


def test_a_json_line_has_type_node_seq_and_ts_and_parses_back() -> None:
    line = json_line(state("node-1", 5, seq=9, psi=0.5))

    data = json.loads(line)
    assert "\n" not in line
    assert data["type"] == "state"
    assert data["node"] == "node-1"
    assert data["seq"] == 9
    assert data["ts"] == 5.0
    assert data["psi"] == 0.5
    assert data["v"] == 1
