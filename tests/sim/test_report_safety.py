"""The experiments' files stay valid JSON, and no table lists nonsense."""

from __future__ import annotations

import json
import math
from pathlib import Path

from entro_net.sim.report import write_json


def test_a_non_finite_figure_is_written_as_null(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "x.json",
        {"var": math.nan, "fit": {"r2": math.inf}, "runs": [1.0, -math.inf]},
    )

    data = json.loads(path.read_text())
    assert data == {"var": None, "fit": {"r2": None}, "runs": [1.0, None]}
    assert "NaN" not in path.read_text()


def test_a_linear_fit_that_explains_little_lists_no_predictions(
    tmp_path: Path,
) -> None:
    from entro_net.cli.main import main

    status = main(
        ["experiment", "sweep", "--law", "resilient", "--nodes", "2,3,5,8,10,15,20,30",
         "--steps", "200", "--repeats", "1", "--no-plot", "--out", str(tmp_path)]
    )  # fmt: skip

    report = (tmp_path / "sweep.md").read_text()
    assert status == 0
    assert "(R² 0.4" in report, "the case this test needs: a fit with R² < 0.5"
    assert "Linear prediction" not in report
    assert "explains too little" in report
