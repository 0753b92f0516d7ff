"""The per-reading isolation rule of the free clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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


def _vectorised_rule_decisions(
    readings: list[tuple[int, float]], config: ModelConfig
) -> list[tuple[str, int, int, DecisionKind]]:
    """The rule as ``IsolationState.step`` runs it, one present node a step."""
    import numpy as np

    from entro_net.model.isolation import IsolationState

    state = IsolationState.start((1, 4))
    made = []
    for step, (node, raw) in enumerate(readings):
        values = np.zeros((1, 4))
        values[0, node] = raw
        present = np.zeros((1, 4), dtype=bool)
        present[0, node] = True
        streaks = state.calm_streak.copy()
        for d in state.step(
            values,
            present,
            step,
            psi_critical=config.psi_critical,
            readmit_below=config.readmit_below,
            readmit_after=config.readmit_after,
        ):
            made.append((f"n{d.node}", d.step, d.epoch, d.kind))
        state.calm_streak = np.where(present, state.calm_streak, streaks)
    return made


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from([0.1, 0.3, 0.5, 0.79, 0.81, 1.2, 2.0]),
        ),
        max_size=80,
    )
)
def test_the_per_reading_rule_decides_as_the_vectorised_rule(
    readings: list[tuple[int, float]],
) -> None:
    rule = ReadingRule(MODEL)
    made = []
    for step, (node, raw) in enumerate(readings):
        made += [
            (d.node, d.step, d.epoch, d.kind)
            for d in rule.observe(f"n{node}", raw, step)
        ]

    assert made == _vectorised_rule_decisions(readings, MODEL)
