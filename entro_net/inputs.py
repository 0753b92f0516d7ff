"""The edge where outside numbers come in: trace CSV files and host pressure.

The model core only normalises plain numbers; this module reads files and
``/proc`` so that ``entro_net.model`` never does I/O. A file that does not
parse raises SourceError naming the file and the line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from entro_net.errors import SourceError
from entro_net.model.sources import (
    normalise,
    parse_pressure,
    pressure_fraction,
    trace_fraction,
)

Array = NDArray[np.float64]

PRESSURE_DIR = Path("/proc/pressure")
PRESSURE_KINDS = ("cpu", "memory", "io")
NOT_PERCENT_HINTS = ("bytes", "count", "network")


@dataclass(frozen=True)
class TraceSeries:
    """One node's trace: its rows as read, and the Ψ series they give."""

    name: str
    timestamps: list[str]
    values: Array
    psi: Array


def is_percent_series(name: str, values: Array) -> bool:
    """Whether a series holds percentages rather than bytes or counts.

    A name with "cpu" is percent; otherwise a series whose values all lie
    in [0, 100] is percent unless its name says bytes, count or network.
    """
    lowered = name.lower()
    if "cpu" in lowered:
        return True
    if any(hint in lowered for hint in NOT_PERCENT_HINTS):
        return False
    return bool(np.all((values >= 0.0) & (values <= 100.0)))


def _parse_row(line: str) -> tuple[str, float] | None:
    """``timestamp,value`` as (timestamp, finite value); None if it is not one."""
    fields = line.split(",")
    if len(fields) < 2:
        return None
    try:
        value = float(fields[1])
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return fields[0].strip(), value


def load_trace(path: str | Path) -> TraceSeries:
    """Read a ``timestamp,value`` CSV and turn it into a Ψ series.

    Blank lines and ``#`` comments are skipped; the first row may be a
    header. Percent series are divided by 100, bytes and counts scaled by
    their 1st..99th percentile over the first day, then normalised.

    Raises:
        SourceError: the file cannot be read, a row is not
            ``timestamp,number`` (naming the line), or it has no rows.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read the trace: {exc}", path=str(path)) from exc

    timestamps: list[str] = []
    values: list[float] = []
    seen_first = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        row = _parse_row(stripped)
        if row is None and not seen_first:
            seen_first = True
            continue
        seen_first = True
        if row is None:
            raise SourceError(
                f"line {number}: expected 'timestamp,value' with a finite number, "
                f"got {stripped[:60]!r}",
                path=str(path),
            )
        timestamps.append(row[0])
        values.append(row[1])
    if not values:
        raise SourceError("no 'timestamp,value' rows in the trace", path=str(path))

    series = np.asarray(values, dtype=float)
    fraction = trace_fraction(series, percent=is_percent_series(path.stem, series))
    return TraceSeries(path.stem, timestamps, series, normalise(fraction))


def load_trace_dir(directory: str | Path) -> list[TraceSeries]:
    """Load every ``*.csv`` of ``directory``, one node each, in name order.

    Raises:
        SourceError: the directory is missing or holds no CSV file, or a
            file does not parse.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise SourceError("not a directory of trace CSV files", path=str(directory))
    files = sorted(directory.glob("*.csv"))
    if not files:
        raise SourceError(
            "no *.csv files: give one timestamp,value file per node",
            path=str(directory),
        )
    return [load_trace(file) for file in files]


def _utilisation_percent(kind: str) -> float | None:
    """The utilisation percentage psutil gives where the kernel has no PSI."""
    import psutil

    if kind == "cpu":
        return float(psutil.cpu_percent(interval=None))
    if kind == "memory":
        return float(psutil.virtual_memory().percent)
    return None


def read_host_pressure(root: Path = PRESSURE_DIR) -> float:
    """The machine's pressure now, as a fraction in [0, 1].

    The largest of the CPU, memory and IO "some avg10" figures of
    ``/proc/pressure``; where a file is missing or unreadable, psutil's
    utilisation stands in (CPU and memory; IO has none). psutil's first
    CPU figure in a process is 0.0, because it measures since the last call.
    """
    figures: list[float] = []
    for kind in PRESSURE_KINDS:
        try:
            figures.append(parse_pressure((root / kind).read_text()))
        except (OSError, ValueError):
            fallback = _utilisation_percent(kind)
            if fallback is not None:
                figures.append(fallback)
    return pressure_fraction(figures)


def read_host_psi() -> float:
    """The host source's raw reading: the pressure through the normaliser."""
    return float(normalise(np.asarray(read_host_pressure())))
