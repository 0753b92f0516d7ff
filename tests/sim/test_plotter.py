"""The background plotter runs jobs in a forked child and reports failures."""

import os

import pytest

from entro_net.sim.plotter import BackgroundPlotter, PlotError


def _pid_plus(offset: int) -> int:
    return os.getpid() + offset


def _fail() -> None:
    raise ValueError("bad figure")


def test_jobs_run_in_a_child_process() -> None:
    with BackgroundPlotter() as plotter:
        assert plotter.run(_pid_plus, 0) != os.getpid()


def test_disabled_plotter_runs_jobs_here() -> None:
    with BackgroundPlotter(enabled=False) as plotter:
        assert plotter.run(_pid_plus, 0) == os.getpid()


def test_a_failing_job_raises_plot_error_with_the_cause() -> None:
    with BackgroundPlotter() as plotter, pytest.raises(PlotError, match="bad figure"):
        plotter.run(_fail)
