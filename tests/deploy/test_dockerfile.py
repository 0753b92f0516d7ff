"""deploy/Dockerfile builds a working image, checked without a Docker engine.

The build context is laid out as the COPY lines say, the pip steps run in a
fresh virtual environment, and the image's CMD and HEALTHCHECK run from it. A
wrong path, a missing file or a package that does not install fails here. System
lines (users, packages) are checked, never run on the host.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import site
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.compose import REPO
from tests.deploy.dockerfile import Copy, Dockerfile, is_ignored
from tests.deploy.netns import Host, Lab, is_available, remove_stale

DOCKERFILE = REPO / "deploy" / "Dockerfile"

# First words of RUN commands that change the image's system: checked only.
SYSTEM_COMMANDS = {"groupadd", "useradd", "apt-get", "rm", "mkdir", "chown", "chmod"}
PIP_TIMEOUT_S = 180.0
HEALTH_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def image() -> Dockerfile:
    return Dockerfile.load(DOCKERFILE)


def _is_pip_install(argv: list[str]) -> bool:
    if argv[:1] in (["pip"], ["pip3"]):
        return argv[1:2] == ["install"]
    return argv[:1] in (["python"], ["python3"]) and argv[1:4] == [
        "-m",
        "pip",
        "install",
    ]


def test_image_is_slim_python_and_runs_as_a_created_non_root_user(
    image: Dockerfile,
) -> None:
    created = [
        argv[-1]
        for run in image.runs
        for argv in run.commands()
        if argv[0] == "useradd"
    ]

    assert image.base.startswith("python:3.11") and "slim" in image.base
    assert image.user not in ("root", "0", "")
    assert image.user.split(":")[0] in created, "USER names a user no RUN creates"


def test_every_run_command_is_a_pip_install_or_a_known_system_step(
    image: Dockerfile,
) -> None:
    commands = [argv for run in image.runs for argv in run.commands()]
    unknown = [
        argv
        for argv in commands
        if not _is_pip_install(argv) and argv[0] not in SYSTEM_COMMANDS
    ]
    pip_steps = [argv for argv in commands if _is_pip_install(argv)]

    assert not unknown, f"teach test_dockerfile.py about these RUN commands: {unknown}"
    assert pip_steps, "the image must pip install the project"
    assert all(run.user == "root" for run in image.runs if "pip" in run.script)


def test_health_check_and_command_are_the_packages_console_script(
    image: Dockerfile,
) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    scripts = pyproject["project"]["scripts"]

    assert image.healthcheck == ["entro-net", "health"]
    assert (image.entrypoint + image.cmd)[0] in scripts
    assert image.healthcheck[0] in scripts


# --- the build, run as the Dockerfile says -----------------------------------


@dataclass(frozen=True)
class Built:
    """A scratch image root and the virtual environment its pip steps filled."""

    root: Path
    venv: Path
    env: dict[str, str]

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def _in_root(root: Path, image_path: str) -> Path:
    return root / image_path.lstrip("/")


def _copy_into(root: Path, copy: Copy, ignore: list[str]) -> None:
    """Copy from the build context (the repo) as Docker's COPY would."""
    dest = _in_root(root, copy.dest)
    for source in copy.sources:
        src = REPO / source
        assert src.exists(), f"COPY {source}: not in the build context {REPO}"
        if src.is_dir():
            for path in src.rglob("*"):
                relative = path.relative_to(REPO).as_posix()
                if path.is_dir() or is_ignored(relative, ignore):
                    continue
                target = dest / path.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        else:
            into_dir = copy.dest.endswith("/") or len(copy.sources) > 1
            target = dest / src.name if into_dir else dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def _link_dependencies(venv: Path, scratch: Path) -> None:
    """Let the venv see the dependencies already installed here, not this project.

    The pip steps then install the project itself from the scratch context and
    find its dependencies satisfied, instead of downloading them all again.
    """
    deps = scratch / "deps"
    deps.mkdir()
    skip = ("entro_net", "entro-net", "__editable__", "pip", "setuptools", "wheel")
    for directory in site.getsitepackages():
        for entry in sorted(Path(directory).iterdir()):
            name = entry.name.lower()
            if (
                name.startswith(skip)
                or name.endswith(".pth")
                or name == "_distutils_hack"
            ):
                continue
            if not (deps / entry.name).exists():
                (deps / entry.name).symlink_to(entry)
    purelib = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "entro_test_deps.pth").write_text(f"{deps}\n", encoding="utf-8")


def _pip_argv(argv: list[str], venv: Path) -> list[str]:
    if argv[0] in ("python", "python3"):
        return [str(venv / "bin" / "python"), *argv[1:]]
    return [str(venv / "bin" / "python"), "-m", "pip", *argv[1:]]


@pytest.fixture(scope="module")
def built(image: Dockerfile, tmp_path_factory: pytest.TempPathFactory) -> Built:
    scratch = tmp_path_factory.mktemp("image")
    root = scratch / "root"
    ignore = image.ignore_patterns()
    for copy in image.copies:
        _copy_into(root, copy, ignore)
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    _link_dependencies(venv, scratch)
    base_env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(scratch / "home"),
        "LANG": "C.UTF-8",
    }
    (scratch / "home").mkdir()

    for run in image.runs:
        for argv in run.commands():
            if not _is_pip_install(argv):
                continue
            workdir = _in_root(root, run.workdir)
            done = subprocess.run(
                _pip_argv(argv, venv),
                cwd=workdir,
                env={**base_env, **run.env},
                capture_output=True,
                text=True,
                timeout=PIP_TIMEOUT_S,
            )
            command = " ".join(argv)
            assert done.returncode == 0, (
                f"RUN {command} in {run.workdir} failed:\n{done.stdout}\n{done.stderr}"
            )
    return Built(root=root, venv=venv, env={**base_env, **image.env})


def test_pip_steps_install_the_package_into_the_environment(built: Built) -> None:
    probe = subprocess.run(
        [
            str(built.bin / "python"),
            "-c",
            "import entro_net; print(entro_net.__file__)",
        ],
        cwd=built.env["HOME"],
        env=built.env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).is_relative_to(built.venv)
    assert (built.bin / "entro-net").is_file()


def _free_port_pair() -> int:
    """A port P below 32768 with P and P+1 free on loopback (control and events)."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        try:
            for candidate in (port, port + 1):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair below 32768 on loopback")


@dataclass
class Container:
    """Where the image's commands run: a fresh network namespace when this
    machine allows one (as root), else this host with free ports."""

    env: dict[str, str]
    lab: Lab | None
    host: Host | None
    logs: Path

    def argv(self, command: list[str]) -> list[str]:
        if self.host is None:
            return command
        return ["ip", "netns", "exec", self.host.name, *command]

    def run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command),
            cwd=self.env["HOME"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self, command: list[str], tag: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{tag}.log").open("wb") as log:
            return subprocess.Popen(
                self.argv(command),
                cwd=self.env["HOME"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )


@pytest.fixture
def container(built: Built, tmp_path: Path) -> Iterator[Container]:
    env = dict(built.env)
    if is_available() is not None:
        # No namespace: keep clear of other processes' ports on this host.
        env.update(
            ENTRO_NET_PORT=str(_free_port_pair()), ENTRO_NET_BIND_HOST="127.0.0.1"
        )
        yield Container(env, None, None, tmp_path)
        return
    remove_stale()
    lab = Lab(f"{os.getpid()}x3", "10.213.250.0/24", tmp_path)
    try:
        lab.open()
        host = lab.add_host("image")
        yield Container(env, lab, host, tmp_path)
    finally:
        left = lab.close()
        assert not left, f"left behind: {left}"


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


def test_image_command_starts_and_passes_its_health_check(
    image: Dockerfile, container: Container, tmp_path: Path
) -> None:
    before = container.run(image.healthcheck)
    proc = container.start(image.entrypoint + image.cmd, "cmd")
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        result = container.run(image.healthcheck)
        while result.returncode != 0 and time.monotonic() < deadline:
            log = (tmp_path / "cmd.log").read_text(errors="replace")
            assert proc.poll() is None, f"CMD exited {proc.returncode}:\n{log}"
            time.sleep(0.5)
            result = container.run(image.healthcheck)
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=15)
    finally:
        _stop(proc)

    assert before.returncode != 0, "health must fail while nothing answers"
    assert result.returncode == 0, f"HEALTHCHECK never passed: {result.stderr}"
    assert status == 0, "the image's process must stop cleanly on SIGTERM"
