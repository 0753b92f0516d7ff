"""``entro-net experiment``: the seed's sweep, the objectives, and bad flags."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from entro_net.cli.experiment import phases
from entro_net.cli.main import build_parser, helpers_for, main

REPO = Path(__file__).resolve().parents[2]

# MODEL.md §8: the reference package's sweep (seed law, κ = 1)
SEED_TABLE = {20: 0.165380, 30: 0.197713, 50: 0.221481}


def test_seed_law_sweep_lands_on_the_reference_table(tmp_path: Path) -> None:
    status = main(
        [
            "experiment",
            "sweep",
            "--law",
            "seed",
            "--nodes",
            "20,30,50",
            "--steps",
            "800",
            "--repeats",
            "4",
            "--out",
            str(tmp_path),
            "--no-plot",
        ]
    )
    assert status == 0

    result = json.loads((tmp_path / "sweep.json").read_text())
    assert [row["nodes"] for row in result["rows"]] == [20, 30, 50]
    for row in result["rows"]:
        assert row["mean"] == pytest.approx(SEED_TABLE[row["nodes"]], abs=0.01)
        assert len(row["runs"]) == 4
    assert result["law"] == "seed"
    assert (result["steps"], result["repeats"], result["seed"]) == (800, 4, 0)
    assert result["compute_seconds"] > 0.0
    assert (tmp_path / "sweep.csv").read_text().startswith("nodes,mean,std,run0")
    assert "| 50 |" in (tmp_path / "sweep.md").read_text()
    assert not (tmp_path / "sweep.png").exists()


def test_sweep_writes_a_plot_and_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "experiment",
            "sweep",
            "--law",
            "seed",
            "--nodes",
            "2,5,10,15,20",
            "--steps",
            "150",
            "--repeats",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0
    assert (tmp_path / "sweep.png").read_bytes().startswith(b"\x89PNG")
    fits = json.loads((tmp_path / "sweep.json").read_text())["fits"]
    assert fits["linear"]["slope"] > 0.0
    assert [p["nodes"] for p in fits["linear_predictions"]] == [20]
    assert "![sweep](sweep.png)" in (tmp_path / "sweep.md").read_text()
    assert "| 15 |" in capsys.readouterr().out


def test_sweep_reads_one_trace_per_node(tmp_path: Path) -> None:
    traces = tmp_path / "traces"
    traces.mkdir()
    for node in range(3):
        rows = [f"t{k},{20 + 10 * node + (k % 7)}" for k in range(60)]
        (traces / f"cpu_{node}.csv").write_text("timestamp,value\n" + "\n".join(rows))
    out = tmp_path / "out"
    status = main(
        [
            "experiment",
            "sweep",
            "--source",
            "trace",
            "--trace-dir",
            str(traces),
            "--law",
            "seed",
            "--nodes",
            "2,3",
            "--steps",
            "50",
            "--repeats",
            "1",
            "--out",
            str(out),
            "--no-plot",
        ]
    )
    assert status == 0
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    assert rows[1]["mean"] > 0.0


def test_objectives_write_a_report_with_a_plot_per_objective(tmp_path: Path) -> None:
    status = main(
        [
            "experiment",
            "objectives",
            "--nodes",
            "3",
            "--steps",
            "240",
            "--repeats",
            "1",
            "--join-step",
            "100",
            "--fault-step",
            "80",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0

    result = json.loads((tmp_path / "objectives.json").read_text())
    assert list(result["laws"]) == ["seed", "linear", "resilient"]
    assert (result["source"], result["disturbance"]) == ("plant", "llm")
    for law in result["laws"].values():
        assert set(law) == {
            "distributed_stability",
            "networked_transfer",
            "fault_isolation",
        }
        for figures in law.values():
            assert {"figure", "baseline", "threshold", "pass"} <= set(figures)
    report = (tmp_path / "objectives.md").read_text()
    for name in ("stability", "transfer", "isolation"):
        png = tmp_path / f"objective_{name}.png"
        assert png.read_bytes().startswith(b"\x89PNG")
        assert f"(objective_{name}.png)" in report


def test_objectives_default_to_the_plant_with_the_llm_disturbance() -> None:
    args = build_parser().parse_args(["experiment", "objectives"])
    assert (args.source, args.disturbance, args.law) == ("plant", "llm", None)
    assert (args.nodes, args.steps, args.repeats) == (5, 1200, 4)
    sweep = build_parser().parse_args(["experiment", "sweep"])
    assert (sweep.source, sweep.steps, sweep.repeats, sweep.seed) == (
        "scraper",
        800,
        4,
        0,
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--nodes", "1"], "at least 2 nodes"),
        (["--nodes", "2,x"], "is not a number"),
        (["--steps", "0"], "--steps must be > 0"),
        (["--steps", "-5"], "--steps must be > 0"),
        (["--law", "linear", "--kappa", "0.5", "--nodes", "5"], "unstable"),
        (["--source", "trace"], "needs --trace-dir"),
        (["--fault", "1:2"], "NODE:STEP:LEVEL"),
    ],
)
def test_bad_sweep_flags_end_with_one_line_and_status_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    status = main(["experiment", "sweep", "--out", str(tmp_path / "x"), *flags])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "x").exists()


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "entro_net", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
        check=False,
    )


def test_an_unknown_regime_ends_with_one_line_and_status_2(tmp_path: Path) -> None:
    done = run_cli("experiment", "sweep", "--regime", "nope", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "invalid choice: 'nope'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_trace_that_does_not_parse_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "a_cpu.csv").write_text("timestamp,value\nt0,1\n")
    (tmp_path / "b_cpu.csv").write_text("timestamp,value\nt0,1\nt1,oops\n")
    done = run_cli(
        "experiment",
        "sweep",
        "--source",
        "trace",
        "--trace-dir",
        str(tmp_path),
        "--nodes",
        "2",
        "--out",
        str(tmp_path / "out"),
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "b_cpu.csv: line 3:" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_objective_flags_end_with_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["experiment", "objectives", "--nodes", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at least 3 nodes" in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only() -> None:
    quiet = io.StringIO()
    with phases(2, quiet) as advance:
        advance("simulating")
        advance("fitting")
    assert quiet.getvalue() == ""

    terminal = Terminal()
    with phases(2, terminal) as advance:
        advance("simulating")
        advance("fitting")
    assert "fitting" in terminal.getvalue()


def test_the_whole_sweep_command_writes_every_file_and_leaves_no_process(
    tmp_path: Path,
) -> None:
    # As a process: the helpers are forked at start-up, and the command ends
    # without the interpreter's teardown once everything is written.
    out = tmp_path / "out"
    done = run_cli("experiment", "sweep", "--law", "seed", "--nodes", "2,3,5,8",
                   "--steps", "200", "--repeats", "2", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(str(out / "sweep.png"))
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = json.loads((out / "sweep.json").read_text())
    assert [row["nodes"] for row in table["rows"]] == [2, 3, 5, 8]
    assert table["fits"]["saturation"] is not None
    assert (out / "sweep.md").read_text().count("\n| ") >= 4
    assert len((out / "sweep.csv").read_text().splitlines()) == 5


@pytest.mark.parametrize(
    ("words", "kinds"),
    [
        (["experiment", "sweep"], ("fit", "plot")),
        (["experiment", "sweep", "--nodes", "5", "--no-plot"], ("fit",)),
        (["experiment", "sweep", "--help"], ()),
        (["experiment", "objectives"], ()),
        (["up", "--nodes", "3"], ()),
        ([], ()),
    ],
)
def test_helpers_are_started_early_only_for_a_sweep(
    words: list[str], kinds: tuple[str, ...]
) -> None:
    assert helpers_for(words) == kinds
