"""Fixtures for the deploy tests: namespace labs and the processes' environment."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.compose import REPO
from tests.deploy.netns import Lab, is_available, remove_stale


def run_id(lab_number: int) -> str:
    """The id in every name one lab makes: pytest's pid and the lab's number."""
    return f"{os.getpid()}x{lab_number}"


def lab_subnet(salt: int) -> str:
    """A private /24 for one lab of this run, e.g. 10.213.57.0/24."""
    return f"10.213.{20 + (os.getpid() * 7 + salt) % 200}.0/24"


@pytest.fixture(scope="session")
def tool_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PATH for the processes: ``entro-net`` of the interpreter running the tests.

    Where the package is not installed as a command (a bare checkout), a shim
    that runs ``python -m entro_net`` stands in for it.
    """
    bindir = Path(sys.executable).parent
    path = f"{bindir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    if shutil.which("entro-net", path=path):
        return path
    shim_dir = tmp_path_factory.mktemp("shim")
    shim = shim_dir / "entro-net"
    shim.write_text(
        f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m entro_net "$@"\n',
        encoding="utf-8",
    )
    shim.chmod(0o755)
    return f"{shim_dir}{os.pathsep}{path}"


def _open_lab(salt: int, log_dir: Path) -> Lab:
    reason = is_available()
    if reason is not None:
        pytest.skip(reason)
    remove_stale()
    lab = Lab(run_id(salt), lab_subnet(salt), log_dir)
    lab.open()
    return lab


def _close_lab(lab: Lab) -> None:
    left = lab.close()
    assert not left, f"the lab left these behind: {left}"


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab shared by one module's tests; removed when the module ends."""
    lab = _open_lab(1, tmp_path_factory.mktemp("lab-logs"))
    try:
        yield lab
    finally:
        _close_lab(lab)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """A lab for one test; removed when the test ends, also on failure."""
    made = _open_lab(2, tmp_path)
    try:
        yield made
    finally:
        _close_lab(made)
