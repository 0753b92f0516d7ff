"""Start many node processes fast: import once, then fork a child per node.

A cold ``python -m entro_net node`` spends 0.3-0.5 s of CPU importing numpy,
zmq, pydantic and structlog; twenty of them on two cores take seconds. Here
the launching process imports the node's code once and forks every child
before it makes any ZeroMQ context (libzmq's threads do not survive a fork,
so each child builds its own context and sockets after it). A child then
waits on a pipe for its command line, which the launcher sends once the
coordinator's address is known, and runs it as ``entro-net`` would.

The children are the launcher's own, so it waits for them by PID as it would
for ``subprocess.Popen``; each also gets SIGTERM if the launcher dies.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from entro_net.lifetime import die_with_parent

EXIT_LAUNCH_FAILED = 1
CHILD_MODULES = (
    "entro_net.cli.main",
    "entro_net.cli.network",
    "entro_net.node.launch",
    "entro_net.node.process",
)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _redirect(log_path: str) -> None:
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.close(null_fd)


def _child(read_fd: int, parent: int) -> None:
    """In the forked child: wait for the command line, run it, never return."""
    code = EXIT_LAUNCH_FAILED
    try:
        die_with_parent()
        if os.getppid() != parent:
            os._exit(0)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        payload = _read_all(read_fd)
        os.close(read_fd)
        if not payload:
            os._exit(0)  # the launcher gave up before starting us
        order = json.loads(payload)
        _redirect(order["log"])
        from entro_net.cli.main import main

        code = main(order["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_LAUNCH_FAILED
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class ForkedNode:
    """One pre-forked child, with the part of ``subprocess.Popen`` that ``up``
    uses: ``pid``, ``poll``, ``wait``, ``send_signal``, ``kill``,
    ``returncode``."""

    def __init__(self, pid: int, pipe: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pipe: int | None = pipe

    def start(self, argv: list[str], log: Path) -> None:
        """Hand the child its ``entro-net`` arguments and its log file."""
        if self._pipe is None:
            raise RuntimeError(f"node process {self.pid} was already started")
        order = json.dumps({"argv": argv, "log": str(log)}).encode()
        try:
            os.write(self._pipe, order)
        except BrokenPipeError:
            # The child died before its order came (killed from outside);
            # its exit status, which `up` polls, tells what happened.
            pass
        finally:
            self.release()

    def release(self) -> None:
        """Close the pipe: a child not started yet then exits at once."""
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None

    def poll(self) -> int | None:
        """The exit status if the child has ended (it is then reaped), else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end and reap it.

        Raises:
            TimeoutError: it is still running after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"node process {self.pid} still running")
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Signal the child unless it has been reaped already."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)


def prefork(count: int) -> list[ForkedNode]:
    """Import the node's code once and fork ``count`` waiting children.

    Call it before this process makes any ZeroMQ context.
    """
    for module in CHILD_MODULES:
        importlib.import_module(module)  # once here, for every child

    children: list[ForkedNode] = []
    parent = os.getpid()
    gc.collect()
    gc.freeze()  # the children share these objects' pages instead of copying
    try:
        for _ in range(count):
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(write_fd)
                for sibling in children:
                    sibling.release()
                _child(read_fd, parent)
            os.close(read_fd)
            children.append(ForkedNode(pid, write_fd))
    finally:
        gc.unfreeze()
    return children
