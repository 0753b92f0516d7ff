"""Helper processes run jobs in a forked child and report failures."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entro_net import config
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


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def test_a_helper_that_does_not_answer_in_time_is_killed_and_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(config, "HELPER_JOB_TIMEOUT_S", 0.5)
    with Helper("fit") as helper:
        child = helper._child
        assert child is not None
        started = time.monotonic()
        with pytest.raises(HelperError, match=r"did not answer within 0\.5 s"):
            helper.run(_sleep, 30.0)
        assert time.monotonic() - started < 10.0
        assert not child.process.is_alive()


def test_a_failed_job_is_one_line_without_the_traceback() -> None:
    with Helper("plot") as helper, pytest.raises(HelperError) as caught:
        helper.run(_fail)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)


PARENT = """
import os, sys, time
from entro_net import config
from entro_net.sim import helpers
helpers.prestart("fit", "plot")
print(" ".join(str(c.process.pid) for c in helpers._prestarted.values()), flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_helpers_end_with_a_parent_killed_without_reaping_them(signum: int) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True
    )
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        pids = [int(x) for x in parent.stdout.readline().split()]
        assert len(pids) == 2
        parent.send_signal(signum)
        parent.wait(10)
        deadline = time.monotonic() + 10.0
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in pids)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in pids:  # our own grandchildren, left only if this failed
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie of init's does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
