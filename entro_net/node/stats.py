"""What a node measures about its own traffic and cost, in bounded memory.

Per received peer state: the delay from its ``ts`` (the sender's clock when
it built the message) to its arrival here, kept in a fixed histogram of
log-spaced bins, and the gaps in the sender's state sequence numbers (loss).
Per process: CPU seconds and peak RSS. Delays mean something only when the
sender's clock is ours: processes on one Linux host share CLOCK_MONOTONIC,
which is what nodes stamp; delays from other hosts are kept apart as
``skewed`` when they come out negative or absurdly long.

Histograms from many nodes merge by adding their bin counts
(``merge_histograms``), so a benchmark gets the network's exact percentiles
at the bins' resolution (about 4.4 %).
"""

from __future__ import annotations

import math
import resource
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

BINS_PER_OCTAVE = 16
"""Bin width: a factor of 2^(1/16), about 4.4 %."""
MIN_DELAY_S = 1e-6
"""Delays up to this fall into bin 0."""
N_BINS = 27 * BINS_PER_OCTAVE
"""1 µs · 2^27 ≈ 134 s: delays beyond are counted as ``skewed``."""


def bin_of(delay_s: float) -> int:
    """The histogram bin of a delay of ``delay_s`` seconds (may be ≥ N_BINS)."""
    if delay_s <= MIN_DELAY_S:
        return 0
    return int(BINS_PER_OCTAVE * math.log2(delay_s / MIN_DELAY_S))


def bin_upper_s(index: int) -> float:
    """The upper edge of bin ``index`` in seconds (what a percentile reports)."""
    return float(MIN_DELAY_S * 2.0 ** ((index + 1) / BINS_PER_OCTAVE))


class DelayHistogram:
    """Publish-to-receipt delays in a fixed array of log-spaced bins."""

    def __init__(self) -> None:
        self.counts = [0] * N_BINS
        self.count = 0
        self.total_s = 0.0
        self.max_s = 0.0
        self.skewed = 0

    def add(self, delay_s: float) -> None:
        """Count one delay; a negative or out-of-range one counts as skewed."""
        index = bin_of(delay_s)
        if delay_s < 0.0 or index >= N_BINS:
            self.skewed += 1
            return
        self.counts[index] += 1
        self.count += 1
        self.total_s += delay_s
        if delay_s > self.max_s:
            self.max_s = delay_s

    def add_many(
        self,
        delays_s: NDArray[np.float64],
        also: DelayHistogram | Literal[False] = False,
    ) -> None:
        """Count many delays at once (a hub batch), in ``also`` too if given."""
        if delays_s.size == 0:
            return
        clipped = np.maximum(delays_s, MIN_DELAY_S)
        index = (BINS_PER_OCTAVE * np.log2(clipped / MIN_DELAY_S)).astype(np.int64)
        good = (delays_s >= 0.0) & (index < N_BINS)
        skewed = int(delays_s.size - np.count_nonzero(good))
        kept = delays_s[good]
        bins = index[good].tolist()
        total = float(kept.sum()) if bins else 0.0
        top = float(kept.max()) if bins else 0.0
        for hist in (self, also) if also else (self,):
            hist.skewed += skewed
            counts = hist.counts
            for i in bins:
                counts[i] += 1
            hist.count += len(bins)
            hist.total_s += total
            if top > hist.max_s:
                hist.max_s = top

    def sparse(self) -> dict[str, int]:
        """The non-empty bins as ``{str(index): count}`` (JSON-ready)."""
        return {str(i): c for i, c in enumerate(self.counts) if c}

    def figures(self) -> dict[str, Any]:
        """Count, mean, p50, p99, max (ms) and the sparse bins."""
        bins = self.sparse()
        return {
            "count": self.count,
            "skewed": self.skewed,
            "mean_ms": 1e3 * self.total_s / self.count if self.count else None,
            "p50_ms": percentile_ms(bins, 50.0),
            "p99_ms": percentile_ms(bins, 99.0),
            "max_ms": 1e3 * self.max_s if self.count else None,
            "bins_per_octave": BINS_PER_OCTAVE,
            "bins": bins,
        }


def merge_histograms(histograms: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Add sparse histograms (as ``DelayHistogram.sparse`` gives them)."""
    total: dict[str, int] = {}
    for bins in histograms:
        for key, count in bins.items():
            total[key] = total.get(key, 0) + int(count)
    return total


def percentile_ms(bins: Mapping[str, int], q: float) -> float | None:
    """The q-th percentile (0-100) of a sparse histogram, in ms, or None if empty.

    It reports the upper edge of the bin that holds the percentile, so it
    never understates a delay by more than one bin.
    """
    ordered = sorted((int(k), int(v)) for k, v in bins.items())
    total = sum(c for _, c in ordered)
    if total == 0:
        return None
    rank = max(1.0, math.ceil(q / 100.0 * total))
    seen = 0
    for index, count in ordered:
        seen += count
        if seen >= rank:
            return 1e3 * bin_upper_s(index)
    return 1e3 * bin_upper_s(ordered[-1][0])


@dataclass
class _Stream:
    incarnation: int
    first: int
    last: int
    received: int = 1


class StateLoss:
    """Gaps in each peer's state sequence numbers, per incarnation.

    A stream's expected count runs from the first seq heard to the last, so
    what a peer sent before we heard it (or after we stopped listening) is
    not counted as lost.
    """

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}
        self._closed_expected = 0
        self._closed_received = 0
        self._closed_missing: dict[str, int] = {}
        self.repeated = 0
        """States whose seq was not past the last one of their stream."""

    def observe(self, node: str, incarnation: int, seq: int) -> None:
        """Record one accepted state of ``node``."""
        stream = self._streams.get(node)
        if stream is not None and incarnation == stream.incarnation:
            if seq <= stream.last:
                self.repeated += 1  # a replay or a copy: not a state again
                return
        else:
            if stream is not None:
                self._close(node, stream)
            self._streams[node] = _Stream(incarnation, seq, seq)
            return
        stream.last = seq
        stream.received += 1

    def _close(self, node: str, stream: _Stream) -> None:
        expected = stream.last - stream.first + 1
        self._closed_expected += expected
        self._closed_received += stream.received
        if expected > stream.received:
            self._closed_missing[node] = (
                self._closed_missing.get(node, 0) + expected - stream.received
            )

    def figures(self) -> dict[str, Any]:
        """Expected, received and missing states, loss %, missing by peer."""
        expected = self._closed_expected
        received = self._closed_received
        missing = dict(self._closed_missing)
        for node, stream in self._streams.items():
            span = stream.last - stream.first + 1
            expected += span
            received += stream.received
            if span > stream.received:
                missing[node] = missing.get(node, 0) + span - stream.received
        lost = expected - received
        return {
            "expected": expected,
            "received": received,
            "missing": lost,
            "loss_pct": 100.0 * lost / expected if expected else 0.0,
            "missing_by_peer": missing,
            "repeated": self.repeated,
        }


def cpu_seconds() -> float:
    """User plus system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float | None:
    """Peak resident set of this process image in MB (VmHWM), None if unknown.

    Not ``ru_maxrss``: after a fork or exec it can carry the parent's peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def memory_mb() -> dict[str, float]:
    """This process's memory now: RSS, and PSS and USS where Linux tells them.

    PSS splits pages shared with other processes (a fork launcher's parent,
    sibling nodes) among the sharers; USS counts only this process's own.
    """
    out: dict[str, float] = {}
    try:
        with open("/proc/self/smaps_rollup") as rollup:
            for line in rollup:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                    out[key] = float(rest.split()[0]) / 1024.0
    except OSError:
        return out
    figures = {"rss_mb": out.get("Rss", 0.0), "pss_mb": out.get("Pss", 0.0)}
    figures["uss_mb"] = out.get("Private_Clean", 0.0) + out.get("Private_Dirty", 0.0)
    return figures
