"""The experiments' pure computation: fits, figures and objective measures."""

import numpy as np
import pytest

from entro_net.config import Fault, Law, ModelConfig
from entro_net.errors import ConfigError
from entro_net.sim import experiments
from entro_net.sim.experiments import (
    ObjectivePlan,
    SweepPlan,
    SweepRow,
    adaptation_time,
    backend_for,
    fit_linear,
    fit_saturation,
    linear_predictions,
    measure_objectives,
    protected_count,
    r_squared,
    readings_to_isolate,
    simulate_sweep,
    summarise_sweep,
    weight_distance,
)
from entro_net.sim.simulator import SimResult


def fake_result(var_last: list[float], steps: int = 120) -> SimResult:
    """A result whose every run holds one constant Var."""
    var = np.repeat(np.array(var_last)[:, None], steps, axis=1)
    return SimResult(
        var=var,
        v_net=np.zeros_like(var),
        theta_net=np.zeros_like(var),
        n_taking_part=np.zeros(var.shape, dtype=np.int64),
        decisions=[],
        compute_seconds=0.25,
    )


def test_linear_fit_uses_only_sizes_up_to_15() -> None:
    nodes = np.array([2.0, 5.0, 10.0, 15.0, 30.0])
    means = np.array([0.0101 * n - 0.0331 for n in nodes[:4]] + [0.2])
    fit = fit_linear(nodes, means)
    assert fit is not None
    assert fit.slope == pytest.approx(0.0101)
    assert fit.intercept == pytest.approx(-0.0331)
    assert fit.r2 == pytest.approx(1.0)
    assert fit_linear(np.array([2.0, 20.0]), np.array([0.1, 0.2])) is None


def test_saturation_fit_recovers_the_seeds_parameters() -> None:
    nodes = np.array([2, 3, 5, 8, 10, 12, 15, 20, 25, 30, 40, 50], dtype=float)
    means = 0.228 * (1.0 - np.exp(-nodes / 16.2))
    fit = fit_saturation(nodes, means)
    assert fit is not None
    assert fit.sigma2_max == pytest.approx(0.228, rel=1e-4)
    assert fit.n0 == pytest.approx(16.2, rel=1e-4)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.rmse < 1e-6


def test_r_squared_by_hand_and_undefined_for_flat_data() -> None:
    actual = np.array([1.0, 2.0, 3.0])
    # SS_res = 0.25 + 0 + 0.25, SS_tot = 2
    assert r_squared(actual, np.array([1.5, 2.0, 2.5])) == pytest.approx(0.75)
    assert r_squared(np.ones(3), np.ones(3)) is None


def test_linear_predictions_give_the_seeds_deviation_past_15() -> None:
    fit = fit_linear(np.array([10.0, 15.0]), np.array([0.0679, 0.1184]))
    rows = [SweepRow(15, 0.1184, 0.0, []), SweepRow(20, 0.1654, 0.0, [])]
    (prediction,) = linear_predictions(fit, rows)
    # σ² = 0.0101·20 − 0.0331 = 0.1689: (0.1654 − 0.1689)/0.1689 = −2.07%
    assert prediction.nodes == 20
    assert prediction.predicted == pytest.approx(0.1689)
    assert prediction.deviation_pct == pytest.approx(-2.0722, abs=1e-3)


def test_sweep_rows_hold_mean_population_std_and_every_repeat() -> None:
    plan = SweepPlan(ModelConfig(), nodes=[2, 4], steps=120, repeats=2)
    sweep = summarise_sweep(plan, fake_result([0.1, 0.3, 0.2, 0.2]))
    assert [(r.nodes, r.mean, r.std) for r in sweep.rows] == [
        (2, pytest.approx(0.2), pytest.approx(0.1)),
        (4, pytest.approx(0.2), pytest.approx(0.0)),
    ]
    assert sweep.rows[0].runs == pytest.approx([0.1, 0.3])
    content = sweep.to_json()
    assert content["compute_seconds"] == 0.25
    assert content["config"]["law"] == "linear"
    assert content["fits"]["saturation"] is not None


def test_variance_at_float_rounding_is_not_fitted() -> None:
    plan = SweepPlan(ModelConfig(), nodes=[2, 4, 8], steps=120, repeats=1)
    sweep = summarise_sweep(plan, fake_result([1e-33, 3e-33, 2e-34]))
    assert sweep.linear is None and sweep.saturation is None
    assert sweep.fit_note is not None and "rounding" in sweep.fit_note


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (SweepPlan(ModelConfig(), [1, 5], 10, 1), "at least 2 nodes"),
        (SweepPlan(ModelConfig(), [5], 0, 1), "--steps must be > 0"),
        (SweepPlan(ModelConfig(), [5], 10, 0), "--repeats must be > 0"),
    ],
)
def test_a_bad_sweep_plan_is_refused(plan: SweepPlan, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan.check()


def test_backends_are_looked_up_by_name_and_can_be_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert backend_for("network") is experiments.BACKENDS["network"]
    with pytest.raises(ConfigError, match="unknown backend"):
        backend_for("carrier-pigeon")

    calls = []

    def fake_backend(config, runs, steps, seed, inputs):  # type: ignore[no-untyped-def]
        calls.append((len(runs), steps, seed))
        return fake_result([0.1] * len(runs), steps)

    monkeypatch.setitem(experiments.BACKENDS, "network", fake_backend)
    plan = SweepPlan(ModelConfig(), [2, 3], steps=50, repeats=2, seed=9)
    assert simulate_sweep(plan, "network").var.shape == (4, 50)
    assert calls == [(4, 50, 9)]


def test_adaptation_time_counts_steps_until_the_gap_stays_small() -> None:
    assert adaptation_time(np.array([0.3, 0.2, 0.04, 0.06, 0.01, 0.01]), 0.05) == 4
    assert adaptation_time(np.array([0.01, 0.02]), 0.05) == 0
    assert adaptation_time(np.array([0.01, 0.2]), 0.05) is None


def test_weight_distance_is_the_largest_gap_to_the_incumbents_final_mean() -> None:
    # one run, 3 steps, 3 nodes; node 2 joins at step 1
    weights = np.zeros((1, 3, 3, 3))
    weights[0, :, 0] = [0.5, 0.3, 0.2]
    weights[0, :, 1] = [0.7, 0.2, 0.1]
    weights[0, 1, 2] = [0.5, 0.3, 0.2]
    weights[0, 2, 2] = [0.62, 0.24, 0.14]
    distance = weight_distance(weights, joiner=2, join_step=1)
    # the incumbents' mean is [0.6, 0.25, 0.15]
    assert distance[0] == pytest.approx([0.1, 0.02])


def test_readings_to_isolate_and_protected_count_by_hand() -> None:
    taking_part = np.ones((3, 6, 2), dtype=bool)
    taking_part[0, 4:, 0] = False  # out at the third faulty reading
    taking_part[1, 1:, 0] = False  # out before the fault at step 2
    assert readings_to_isolate(taking_part, 0, 2) == [3, 0, None]

    psi = np.full((2, 6, 3), 0.3)
    psi[0, 1, 1] = 0.95  # before the fault: does not count
    psi[0, 3, 2] = 0.81  # after: node 2 of run 0 is not protected
    psi[1, 4, 1] = 0.80  # exactly critical is not above it
    assert protected_count(psi, 2, 0.8) == 3


def small_plan(**changes: object) -> ObjectivePlan:
    fields: dict[str, object] = {
        "config": ModelConfig(source="plant", disturbance="llm"),
        "laws": [Law.LINEAR, Law.RESILIENT],
        "nodes": 3,
        "steps": 200,
        "repeats": 1,
        "join_step": 80,
        "fault_step": 60,
    }
    fields.update(changes)
    return ObjectivePlan(**fields)  # type: ignore[arg-type]


def test_objectives_report_every_law_against_its_baselines() -> None:
    batches: list[str] = []
    result = measure_objectives(small_plan(), batches.append)
    assert len(batches) == experiments.objective_batches(small_plan())
    assert [item.law for item in result.laws] == [Law.LINEAR, Law.RESILIENT]

    linear = result.laws[0]
    # the linear law with κ = 1/n sets every synced value to the mean
    assert linear.stability.var < 1e-20 < linear.stability.baseline
    assert linear.stability.passed
    assert linear.transfer.steps_after_join == 120
    assert len(linear.transfer.transfer_steps) == 1
    assert linear.isolation.healthy == 2
    assert linear.isolation.readings_to_isolate == [3]

    laws = result.to_json()["laws"]
    for objective in ("distributed_stability", "networked_transfer", "fault_isolation"):
        assert isinstance(laws["resilient"][objective]["pass"], bool)
    assert result.to_json()["fault"] == {"node": 0, "step": 60, "level": 2.0}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nodes": 2}, "at least 3 nodes"),
        ({"join_step": 200}, "--join-step"),
        ({"fault_step": 250}, "--fault-step"),
        ({"fault_level": float("inf")}, "--fault-level"),
        (
            {"config": ModelConfig(faults=(Fault(node=1, step=5, level=2.0),))},
            "their own fault",
        ),
        ({"config": ModelConfig(exchange=False)}, "--no-exchange"),
        ({"config": ModelConfig(transfer=False)}, "--no-transfer"),
    ],
)
def test_a_bad_objective_setting_is_refused(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        small_plan(**changes).check()
