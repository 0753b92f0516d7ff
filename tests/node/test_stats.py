"""A node's traffic figures: delay histogram, percentiles and state loss."""

from __future__ import annotations

import numpy as np
import pytest

from entro_net.node.stats import (
    DelayHistogram,
    StateLoss,
    bin_of,
    bin_upper_s,
    merge_histograms,
    percentile_ms,
)


def test_a_percentile_is_the_upper_edge_of_its_bin_within_one_bin_width() -> None:
    hist = DelayHistogram()
    for ms in range(1, 101):
        hist.add(ms / 1000.0)

    p50 = hist.figures()["p50_ms"]
    p99 = hist.figures()["p99_ms"]

    assert 50.0 <= p50 <= 50.0 * 2 ** (1 / 16)
    assert 99.0 <= p99 <= 99.0 * 2 ** (1 / 16)


def test_every_delay_falls_below_its_bins_upper_edge() -> None:
    for delay in (2e-6, 1e-4, 0.0123, 1.5, 60.0):
        assert delay <= bin_upper_s(bin_of(delay))
        assert delay >= bin_upper_s(bin_of(delay) - 1)


def test_negative_and_huge_delays_count_as_skewed_not_as_delays() -> None:
    hist = DelayHistogram()
    hist.add(-0.5)
    hist.add(1e6)
    hist.add(0.001)

    figures = hist.figures()

    assert figures["skewed"] == 2
    assert figures["count"] == 1


def test_merged_histograms_give_the_percentile_of_all_delays() -> None:
    fast, slow = DelayHistogram(), DelayHistogram()
    for _ in range(99):
        fast.add(0.001)
    slow.add(0.5)

    bins = merge_histograms([fast.sparse(), slow.sparse()])

    assert percentile_ms(bins, 99.0) == pytest.approx(1.0, rel=0.05)
    assert percentile_ms(bins, 100.0) == pytest.approx(500.0, rel=0.05)
    assert percentile_ms({}, 50.0) is None


def test_a_gap_in_a_peers_state_seqs_counts_as_missing_states() -> None:
    loss = StateLoss()
    for seq in (10, 11, 14, 15):
        loss.observe("a", 1, seq)
    for seq in (0, 1, 2):
        loss.observe("b", 1, seq)

    figures = loss.figures()

    assert figures["expected"] == 9
    assert figures["received"] == 7
    assert figures["missing_by_peer"] == {"a": 2}
    assert figures["loss_pct"] == pytest.approx(100.0 * 2 / 9)


def test_a_restarted_peer_starts_a_new_stream_without_counting_a_loss() -> None:
    loss = StateLoss()
    for seq in (0, 1, 2):
        loss.observe("a", 1, seq)
    for seq in (0, 1):
        loss.observe("a", 2, seq)

    figures = loss.figures()

    assert figures["expected"] == 5
    assert figures["missing"] == 0


def test_a_replayed_state_is_counted_apart_and_loss_never_goes_negative() -> None:
    loss = StateLoss()
    for seq in (0, 1, 2, 3):
        loss.observe("a", 1, seq)
    for seq in (3, 3, 1, 2):  # replays of what came already
        loss.observe("a", 1, seq)
    loss.observe("a", 1, 4)

    figures = loss.figures()

    assert figures["expected"] == 5 and figures["received"] == 5
    assert figures["missing"] == 0 and figures["loss_pct"] == 0.0
    assert figures["repeated"] == 4


def test_counting_many_delays_at_once_equals_counting_them_one_by_one() -> None:
    delays = np.array([-0.1, 0.0, 3e-6, 0.0015, 0.0151, 0.02, 0.2, 1e6])
    one, many = DelayHistogram(), DelayHistogram()
    for delay in delays:
        one.add(float(delay))

    many.add_many(delays)

    assert many.sparse() == one.sparse()
    assert (many.count, many.skewed) == (one.count, one.skewed)
    assert many.total_s == pytest.approx(one.total_s)
    assert many.max_s == one.max_s


def test_add_many_counts_a_batch_in_a_second_histogram_too() -> None:
    delays = np.array([0.002, 0.004, -0.001, 0.004])
    first, steady = DelayHistogram(), DelayHistogram()
    first.add(0.5)  # the first one already held more than the second

    first.add_many(delays, steady)

    assert steady.count == 3 and steady.skewed == 1
    assert steady.max_s == pytest.approx(0.004) and first.max_s == 0.5
    assert first.count == 4
    assert sum(steady.counts) == 3
    assert {k: first.sparse()[k] for k in steady.sparse()} == steady.sparse()
