"""The free clock's shared time grid.

Free-clock nodes tick at whole multiples of the period on the host's
CLOCK_MONOTONIC, so one tick's states leave together, travel as one burst
and (with the hub) in one batch. What else happens each period is placed
between the bursts by a share of the period past the tick: the coordinator's
θ_net (``FREE_THETA_AT``) and each node's next step (``FREE_PREPARE_AT``),
both in config.py.
"""

from __future__ import annotations

import math


def next_on_grid(now: float, rate_hz: float, share: float = 0.0) -> float:
    """The first time at or after ``now`` that lies ``share`` of a period past
    a tick of the ``rate_hz`` grid."""
    offset = share / rate_hz
    return math.ceil((now - offset) * rate_hz) / rate_hz + offset
