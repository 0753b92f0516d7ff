"""The free clock's shared grid: ticks and the shares of a period past them."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from entro_net.protocol.grid import next_on_grid


@given(
    now=st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
    rate=st.floats(min_value=0.5, max_value=1000.0),
    share=st.floats(min_value=0.0, max_value=0.99),
)
def test_the_next_grid_time_is_the_first_at_or_after_now(
    now: float, rate: float, share: float
) -> None:
    due = next_on_grid(now, rate, share)
    period = 1.0 / rate
    slack = 1e-9 * max(1.0, now)
    assert now - slack <= due < now + period + slack
    ticks = (due - share * period) * rate
    assert math.isclose(ticks, round(ticks), abs_tol=1e-6 * max(1.0, ticks))


def test_shares_place_times_between_the_ticks() -> None:
    assert next_on_grid(1.01, 10.0) == 1.1
    assert math.isclose(next_on_grid(1.01, 10.0, 0.25), 1.025)
    assert math.isclose(next_on_grid(1.03, 10.0, 0.25), 1.125)
    assert next_on_grid(2.0, 10.0) == 2.0
