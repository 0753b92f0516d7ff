"""Helper processes run jobs in a forked child and report failures."""

import os

import pytest

from entro_net.sim import helpers
from entro_net.sim.helpers import Helper, HelperError


def _pid_plus(offset: int) -> int:
    return os.getpid() + offset


def _fail() -> None:
    raise ValueError("bad figure")


def test_jobs_run_in_a_child_process() -> None:
    with Helper("plot") as helper:
        assert helper.run(_pid_plus, 0) != os.getpid()


def test_disabled_helper_runs_jobs_here() -> None:
    with Helper("fit", enabled=False) as helper:
        assert helper.run(_pid_plus, 0) == os.getpid()


def test_a_failing_job_raises_helper_error_with_the_cause() -> None:
    with Helper("plot") as helper, pytest.raises(HelperError, match="bad figure"):
        helper.run(_fail)


def test_a_prestarted_helper_is_taken_over_once_and_leftovers_are_stopped() -> None:
    helpers.prestart("fit", "plot")
    try:
        fit_child = helpers._prestarted["fit"].process
        with Helper("fit") as helper:
            assert helper.run(_pid_plus, 0) == fit_child.pid
        assert "fit" not in helpers._prestarted
        plot_child = helpers._prestarted["plot"].process
    finally:
        helpers.discard_prestarted()
    assert not helpers._prestarted
    assert not fit_child.is_alive() and not plot_child.is_alive()
