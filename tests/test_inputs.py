"""Trace files and host pressure read at the edge (entro_net.inputs)."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from entro_net import inputs
from entro_net.errors import SourceError
from entro_net.inputs import (
    is_percent_series,
    load_trace,
    load_trace_dir,
    read_host_pressure,
)
from entro_net.model.sources import normalise


def write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_cpu_trace_is_percent_and_normalised(tmp_path: Path) -> None:
    path = write(
        tmp_path / "node_cpu.csv",
        ["timestamp,value", "t0,0", "t1,50", "", "# a comment", "t2,100"],
    )
    series = load_trace(path)
    assert series.name == "node_cpu"
    assert series.timestamps == ["t0", "t1", "t2"]
    assert series.values.tolist() == [0.0, 50.0, 100.0]
    # x = 0, 0.5, 1.0 (capped at 0.99): Ψ = 2·(1 − 1/(1 + x^1.7/(1 − x)/10))
    raw_cap = 0.99**1.7 / 0.01
    expected = [
        0.0,
        2 * (1 - 1 / (1 + 0.5**0.7 / 10)),
        2 * (1 - 1 / (1 + raw_cap / 10)),
    ]
    assert series.psi == pytest.approx(expected)


def test_a_file_without_a_header_reads_from_its_first_row(tmp_path: Path) -> None:
    series = load_trace(write(tmp_path / "load.csv", ["t0,20", "t1,40"]))
    assert series.values.tolist() == [20.0, 40.0]
    assert series.psi == pytest.approx(normalise(np.array([0.2, 0.4])))


def test_byte_traces_are_scaled_by_percentiles_not_divided(tmp_path: Path) -> None:
    rows = [f"t{k},{k}" for k in range(101)]
    series = load_trace(write(tmp_path / "network_bytes.csv", rows))
    # 1st..99th percentile of 0..100 is 1..99
    assert series.psi[50] == pytest.approx(float(normalise(np.array(49.0 / 98.0))))


@pytest.mark.parametrize(
    ("name", "values", "percent"),
    [
        ("host_cpu", [5.0, 500.0], True),
        ("load", [0.0, 99.0], True),
        ("load", [0.0, 120.0], False),
        ("rx_bytes", [1.0, 2.0], False),
        ("request_count", [1.0, 2.0], False),
        ("Network_in", [1.0, 2.0], False),
    ],
)
def test_percent_is_told_by_the_name_or_the_range(
    name: str, values: list[float], percent: bool
) -> None:
    assert is_percent_series(name, np.array(values)) is percent


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        (["timestamp,value", "t0,1", "t1,abc"], 3),
        (["t0,1", "t1"], 2),
        (["timestamp,value", "t0,1", "", "t2,nan"], 4),
        (["timestamp,value", "t0,inf"], 2),
    ],
)
def test_a_row_that_does_not_parse_names_the_file_and_line(
    tmp_path: Path, rows: list[str], line: int
) -> None:
    path = write(tmp_path / "cpu.csv", rows)
    with pytest.raises(SourceError, match=rf"cpu\.csv: line {line}:") as caught:
        load_trace(path)
    assert caught.value.path == str(path)


def test_a_file_without_rows_or_unreadable_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no 'timestamp,value' rows"):
        load_trace(write(tmp_path / "empty.csv", ["timestamp,value"]))
    with pytest.raises(SourceError, match="cannot read"):
        load_trace(tmp_path / "missing.csv")


def test_a_trace_directory_gives_one_series_per_file_in_name_order(
    tmp_path: Path,
) -> None:
    write(tmp_path / "b_cpu.csv", ["t0,10"])
    write(tmp_path / "a_cpu.csv", ["t0,20"])
    (tmp_path / "notes.txt").write_text("not a trace")
    assert [s.name for s in load_trace_dir(tmp_path)] == ["a_cpu", "b_cpu"]

    with pytest.raises(SourceError, match="not a directory"):
        load_trace_dir(tmp_path / "missing")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(SourceError, match=r"no \*\.csv files"):
        load_trace_dir(tmp_path / "nothing")


def test_host_pressure_is_the_largest_some_avg10(tmp_path: Path) -> None:
    for kind, figure in (("cpu", 12.5), ("memory", 3.0), ("io", 40.25)):
        (tmp_path / kind).write_text(
            f"some avg10={figure} avg60=0.00 avg300=0.00 total=1\n"
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
        )
    assert read_host_pressure(tmp_path) == pytest.approx(0.4025)


def test_host_pressure_falls_back_to_utilisation_without_psi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psutil

    monkeypatch.setattr(psutil, "cpu_percent", lambda interval=None: 30.0)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(percent=55.0))
    assert read_host_pressure(tmp_path / "no_psi_here") == pytest.approx(0.55)

    (tmp_path / "io").write_text("some avg10=70.00 avg60=0 avg300=0 total=1\n")
    assert read_host_pressure(tmp_path) == pytest.approx(0.70)


def test_host_psi_is_the_pressure_through_the_normaliser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inputs, "read_host_pressure", lambda: 0.5)
    assert inputs.read_host_psi() == pytest.approx(float(normalise(np.array(0.5))))
