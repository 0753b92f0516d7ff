"""The per-reading isolation rule of the free clock."""

from __future__ import annotations

from entro_net.config import ModelConfig
from entro_net.model.isolation import DecisionKind
from entro_net.node.vectors import ReadingRule

MODEL = ModelConfig()


def test_readings_of_other_nodes_do_not_break_a_calm_streak() -> None:
    rule = ReadingRule(MODEL)
    for step in range(3):
        rule.observe("sick", 1.5, step)
    assert rule.is_isolated("sick")

    made = []
    for step in range(3, 3 + MODEL.readmit_after):
        rule.observe("other", 0.3, step)
        made += rule.observe("sick", 0.1, step)
    assert [d.kind for d in made] == [DecisionKind.READMIT]
    assert not rule.is_isolated("sick")


def test_each_node_is_judged_on_its_own_readings_only() -> None:
    rule = ReadingRule(MODEL)
    made = []
    for step in range(5):
        made += rule.observe("a", 1.5 if step % 2 == 0 else 0.2, step)
        made += rule.observe("b", 0.9, step)
    assert [(d.node, d.kind) for d in made] == [
        ("b", DecisionKind.ISOLATE),
        ("a", DecisionKind.ISOLATE),
    ]
    assert [d.epoch for d in made] == [1, 2]
