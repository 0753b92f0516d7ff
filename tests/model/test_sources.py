"""The sources of MODEL.md §1 against hand-computed values."""

import math

import numpy as np
import pytest

from entro_net.config import Disturbance, Fault, Source
from entro_net.model.sources import (
    PlantState,
    apply_faults,
    disturbance,
    normalise,
    open_loop_reading,
    parse_pressure,
    phase_shift_reading,
    plant_advance,
    pressure_fraction,
    scraper_reading,
    trace_fraction,
)


def test_scraper_reading_is_sine_plus_a_tenth_of_the_draw() -> None:
    readings = scraper_reading(np.array([0, 10, 40]), np.array([0.5, 0.0, 1.0]))
    assert readings == pytest.approx(
        [0.35, 0.3 + 0.4 * math.sin(0.5), 0.3 + 0.4 * math.sin(2.0) + 0.1]
    )


def test_phase_shift_jumps_from_0_3_to_0_7_at_step_250() -> None:
    draws = np.array([0.2, 0.2, 0.2])
    readings = phase_shift_reading(np.array([0, 249, 250]), draws)
    assert readings == pytest.approx([0.32, 0.32, 0.72])


def test_open_loop_reading_dispatches_and_refuses_closed_loop_sources() -> None:
    assert open_loop_reading(Source.SCRAPER, 0, np.array([1.0])) == pytest.approx(0.4)
    assert open_loop_reading(Source.PHASE_SHIFT, 300, np.array([0.0])) == (
        pytest.approx(0.7)
    )
    with pytest.raises(ValueError, match="plant is not an open-loop source"):
        open_loop_reading(Source.PLANT, 0, np.array([0.0]))


def test_scraper_disturbance_is_a_sine_plus_a_bump_every_20_seconds() -> None:
    t = np.array([0.0, 10.0, 2.5, 30.0])
    expected = [
        0.8 * math.exp(-100.0 / 30.0),
        0.5 * math.sin(2.0 * math.pi) + 0.8,
        0.5 * math.sin(0.5 * math.pi) + 0.8 * math.exp(-(7.5**2) / 30.0),
        0.5 * math.sin(6.0 * math.pi) + 0.8,
    ]
    assert disturbance(Disturbance.SCRAPER, t) == pytest.approx(expected, abs=1e-12)


def test_llm_disturbance_ramps_until_50_seconds_then_oscillates() -> None:
    t = np.array([0.0, 20.0, 49.9, 60.0])
    expected = [0.0, 0.2, 0.499, 0.5 + 0.1 * math.sin(12.0)]
    assert disturbance(Disturbance.LLM, t) == pytest.approx(expected)


def test_plant_takes_one_step_of_the_second_order_system() -> None:
    state = PlantState.start((1, 1))
    weights = np.array([[[0.5, 0.3, 0.2]]])
    plant_advance(
        state,
        np.array([[1.4]]),
        weights,
        np.array([[0.0]]),
        np.array([[0.001]]),
        Disturbance.SCRAPER,
    )
    # v = a = 0 at the start, so only w1·σ(Ψ − θ) drives the control
    control = -0.5 / (1.0 + math.exp(-(0.339 - 1.4)))
    a = -0.339 + control + 0.8 * math.exp(-100.0 / 30.0) + 0.001
    assert state.a[0, 0] == pytest.approx(a)
    assert state.v[0, 0] == pytest.approx(a * 0.1)
    assert state.psi[0, 0] == pytest.approx(0.339 + a * 0.1 * 0.1)


def test_plant_psi_never_falls_below_its_floor() -> None:
    state = PlantState(psi=np.array([0.06]), v=np.array([-5.0]), a=np.array([0.0]))
    plant_advance(
        state,
        np.array([1.4]),
        np.array([[0.5, 0.3, 0.2]]),
        np.array([0.0]),
        np.array([0.0]),
        Disturbance.LLM,
    )
    assert state.psi[0] == 0.05


def test_plant_control_never_pushes_psi_up() -> None:
    # falling fast, the drive is negative; u = −clip(drive, 0, 1) stays at 0
    state = PlantState(psi=np.array([0.339]), v=np.array([-50.0]), a=np.array([-50.0]))
    plant_advance(
        state,
        np.array([1.4]),
        np.array([[0.5, 0.3, 0.2]]),
        np.array([0.0]),
        np.array([0.0]),
        Disturbance.LLM,
    )
    assert state.a[0] == pytest.approx(-0.339 + 0.5 * 50.0 + 0.0)


def test_a_fault_sets_its_node_to_the_level_from_its_step_on() -> None:
    raw = np.array([[0.1, 0.2, 0.3]])
    faults = (Fault(node=1, step=5, level=2.0),)
    index = np.arange(3)
    assert apply_faults(raw, 4, faults, index) == pytest.approx(raw)
    assert apply_faults(raw, 5, faults, index)[0] == pytest.approx([0.1, 2.0, 0.3])
    # a node process holds one column: node 1 alone
    assert apply_faults(np.array([0.2]), 9, faults, np.array([1])) == [2.0]


def test_normaliser_matches_the_entro_ai_formula() -> None:
    x = np.array([0.0, 0.5, 0.99, 1.0, 1.5])
    raw_half = 0.5**1.7 / 0.5
    raw_cap = 0.99**1.7 / 0.01
    expected = [
        0.0,
        2.0 * (1.0 - 1.0 / (1.0 + raw_half / 10.0)),
        2.0 * (1.0 - 1.0 / (1.0 + raw_cap / 10.0)),
        2.0 * (1.0 - 1.0 / (1.0 + raw_cap / 10.0)),
        2.0 * (1.0 - 1.0 / (1.0 + raw_cap / 10.0)),
    ]
    assert normalise(x) == pytest.approx(expected)
    assert normalise(x)[1] == pytest.approx(0.1159753, abs=1e-7)
    assert np.all(normalise(x) < 2.0)


def test_percent_traces_are_divided_by_100_and_clipped() -> None:
    values = np.array([0.0, 25.0, 100.0, 130.0, -5.0])
    assert trace_fraction(values, percent=True) == pytest.approx(
        [0.0, 0.25, 1.0, 1.0, 0.0]
    )


def test_byte_traces_are_scaled_by_the_first_days_percentiles() -> None:
    # first 288 rows: 0..287, so the 1st and 99th percentiles are 2.87, 284.13
    head = np.arange(288.0)
    values = np.concatenate([head, [1000.0, 143.5]])
    fraction = trace_fraction(values, percent=False)
    low, high = 0.01 * 287.0, 0.99 * 287.0
    assert fraction[100] == pytest.approx((100.0 - low) / (high - low))
    assert fraction[0] == 0.0
    assert fraction[288] == 1.0  # past the first day's range: clipped
    assert fraction[289] == pytest.approx(0.5)


def test_a_flat_byte_trace_reads_zero() -> None:
    assert np.all(trace_fraction(np.full(10, 7.0), percent=False) == 0.0)


def test_pressure_parsing_reads_the_some_avg10_figure() -> None:
    text = (
        "some avg10=12.34 avg60=1.00 avg300=0.50 total=123\n"
        "full avg10=3.00 avg60=0.00 avg300=0.00 total=0\n"
    )
    assert parse_pressure(text) == 12.34
    with pytest.raises(ValueError, match="some avg10"):
        parse_pressure("full avg10=3.00 avg60=0.00\n")


def test_pressure_fraction_is_the_largest_percentage_over_100() -> None:
    assert pressure_fraction([1.5, 12.0, 0.3]) == pytest.approx(0.12)
    assert pressure_fraction([]) == 0.0
    assert pressure_fraction([250.0]) == 1.0
