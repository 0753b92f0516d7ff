"""Values no run can use are refused before anything starts: one line, status 2.

Each case used to be accepted and then crash a node, eat memory, wait a
minute or print a meaningless summary.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from entro_net.cli.main import main


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        status = main(argv)
    except SystemExit as caught:  # argparse's own errors
        status = int(caught.code or 0)
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["up", "--nodes", "1"], "--nodes"),
        (["up", "--nodes", "100000"], "--nodes"),
        (["up", "--steps", "0"], "--steps"),
        (["up", "--seed", "-1"], "--seed"),
        (["up", "--nodes", "3", "--law", "resilient", "--tolerate", "5"], "--tolerate"),
        (["up", "--nodes", "3", "--degree", "5"], "--degree"),
        (["up", "--nodes", "3", "--fault", "7:1:2.0"], "--fault"),
        (["up", "--fault", "0:1:1e308"], "fault"),
        (["up", "--theta-base", "-1"], "--theta-base"),
        (["up", "--gamma=-1"], "--gamma"),
        (["up", "--psi-critical", "0"], "--psi-critical"),
        (["coordinator", "--expect", "-1"], "--expect"),
        (["coordinator", "--advertise", "bad host!"], "--advertise"),
        (["node", "--index", "-1"], "--index"),
        (["node", "--network-size", "-2"], "--network-size"),
        (["node", "--advertise", "no/slash"], "--advertise"),
        (["health", "--timeout", "0"], "--timeout"),
        (["health", "--timeout", "nan"], "--timeout"),
        (["health", "--node", "bogus"], "--node"),
        (["health", "--port", "0"], "--port"),
        (["experiment", "sweep", "--seed", "-1"], "--seed"),
        (["experiment", "sweep", "--backend", "foo"], "--backend"),
        (["experiment", "sweep", "--nodes", "2-3000"], "node-runs"),
        (["experiment", "sweep", "--nodes", "500", "--steps", "100000"], "GB"),
        (["experiment", "objectives", "--fault-level", "1e300"], "--fault-level"),
    ],
)
def test_a_value_no_run_can_use_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert says in _refused(capsys, argv)


@pytest.mark.parametrize(
    "flag", ["--summary-json", "--ready-file", "--record", "--log-dir"]
)
def test_an_unwritable_output_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    err = _refused(capsys, ["up", flag, str(blocker / "below" / "x")])

    assert flag in err


def test_an_unreadable_trace_is_one_line_before_any_node_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_bytes(b"timestamp,value\n\xff\xfe,1\n")

    err = _refused(capsys, ["up", "--source", "trace", "--trace-dir", str(tmp_path)])

    assert "a.csv" in err
