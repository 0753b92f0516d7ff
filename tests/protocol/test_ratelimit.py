"""WarnLimiter and FloodGuard, driven by a fake clock."""

from __future__ import annotations

import pytest

from entro_net.protocol import FloodGuard, WarnLimiter


def test_first_event_warns_then_silence_until_the_interval_passes() -> None:
    limiter = WarnLimiter(interval_s=5.0)

    first = limiter.admit("garbage", now=100.0)
    inside = [limiter.admit("garbage", now=100.0 + t) for t in (1.0, 2.0, 4.9)]
    after = limiter.admit("garbage", now=105.0)

    assert first == 1
    assert inside == [0, 0, 0]
    assert after == 4  # the three held back and this one


def test_a_warning_covers_only_the_events_since_the_previous_one() -> None:
    limiter = WarnLimiter(interval_s=1.0)
    limiter.admit("schema", now=0.0)
    limiter.admit("schema", now=0.5)
    limiter.admit("schema", now=1.0)

    third = [limiter.admit("schema", now=t) for t in (1.2, 2.0)]

    assert third == [0, 2]


def test_each_key_has_its_own_interval() -> None:
    limiter = WarnLimiter(interval_s=5.0)
    limiter.admit("garbage", now=0.0)

    other = limiter.admit("version", now=1.0)

    assert other == 1
    assert limiter.held("garbage") == 0


def test_held_counts_events_since_the_last_warning() -> None:
    limiter = WarnLimiter(interval_s=5.0)
    for t in range(4):
        limiter.admit("flood", now=float(t))

    assert limiter.held("flood") == 3


def test_limiter_refuses_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        WarnLimiter(interval_s=0.0)


def test_flood_guard_allows_a_burst_then_the_steady_rate() -> None:
    guard = FloodGuard(rate_per_s=100.0, burst=10)

    burst = [guard.admit("a", now=0.0) for _ in range(20)]
    later = [guard.admit("a", now=0.05) for _ in range(10)]

    assert burst.count(True) == 10
    assert later.count(True) == 5  # 0.05 s at 100/s


def test_flood_guard_never_banks_more_than_the_burst() -> None:
    guard = FloodGuard(rate_per_s=100.0, burst=3)
    guard.admit("a", now=0.0)

    after_an_hour = [guard.admit("a", now=3600.0) for _ in range(10)]

    assert after_an_hour.count(True) == 3


def test_flood_guard_tolerates_a_clock_going_backwards() -> None:
    guard = FloodGuard(rate_per_s=1.0, burst=1)
    guard.admit("a", now=10.0)

    earlier = guard.admit("a", now=5.0)
    later = guard.admit("a", now=11.0)

    assert earlier is False
    assert later is True


def test_flood_guard_keeps_a_bounded_number_of_senders() -> None:
    guard = FloodGuard(rate_per_s=1.0, burst=1, max_senders=2)
    guard.admit("a", now=0.0)
    guard.admit("b", now=0.0)
    guard.admit("c", now=0.0)

    again = guard.admit("a", now=0.0)

    assert again is True  # "a" was forgotten and starts with a full bucket
