"""Helper processes that load a heavy library while the command works.

Importing matplotlib costs more than a whole in-process sweep, and scipy's
optimisers nearly as much. A helper forked at the start imports one of them
while the parent simulates, then runs what the parent hands it: the sweep's
saturation fit (``fit``) or its figure (``plot``). ``prestart`` forks the
helpers before the parent has imported anything heavy (the command line calls
it first thing, when the command will draw), and the next ``Helper`` of that
kind takes its child over. Jobs are a function of a light module and plain
numbers (``sim/fitting.py``, ``sim/drawing.py``). Where fork is missing the
job runs in process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Literal

from entro_net.errors import EntroNetError
from entro_net.lifetime import die_with_parent

JOIN_TIMEOUT_S = 120.0
HELPER_NICE = 10
"""How far a helper yields to its parent. The value lives here, not in the
config model: this module is loaded and forked before the config is (its
import would delay every helper by a tenth of a second)."""

Kind = Literal["plot", "fit"]


class HelperError(EntroNetError):
    """A helper's job failed, or the helper died."""


def _warm_up(kind: Kind) -> None:
    # Only the module of the job's function, and the library it needs.
    if kind == "plot":
        from entro_net.sim.drawing import pyplot

        pyplot()
    else:
        from entro_net.sim.fitting import warm_up

        warm_up()


def _serve(conn: Connection, kind: Kind, parent: int) -> None:
    """Child: warm up, then run each job sent until told to stop."""
    try:
        # Gone with the parent, however it ends: the pipe's far end may be
        # held open by a sibling, and an orphan would keep its stdout open.
        die_with_parent()
        if os.getppid() != parent:
            return
        for end in _parent_ends:
            end.close()  # the parent's ends of every helper's pipe
        # Below the parent: its simulation (timed as the sweep's compute)
        # keeps a whole core while the helpers load their libraries.
        os.nice(HELPER_NICE)
        _warm_up(kind)
        while True:
            job = conn.recv()
            if job is None:
                return
            function, args = job
            try:
                conn.send(("ok", function(*args)))
            except Exception as exc:  # reported to the parent, which raises
                conn.send(("error", (repr(exc), traceback.format_exc())))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return


_parent_ends: list[Connection] = []
"""This process's ends of its helpers' pipes (a child closes its copies)."""


class _Child:
    """A forked helper process and the parent's end of its pipe."""

    def __init__(self, kind: Kind) -> None:
        context = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve,
            args=(child, kind, os.getpid()),
            daemon=True,
            name=f"entro-net-{kind}",
        )
        self.process.start()
        child.close()
        _parent_ends.append(self.conn)

    def close(self, *, kill: bool = False) -> None:
        """Tell the child to stop and wait for it; ``kill``: do not wait (it
        is not needed, or did not answer). A child that hangs is killed."""
        if self.conn in _parent_ends:
            _parent_ends.remove(self.conn)
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.conn.close()
        self.process.join(JOIN_TIMEOUT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


_prestarted: dict[str, _Child] = {}


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def prestart(*kinds: Kind) -> None:
    """Fork a helper of each kind now, for the next ``Helper`` of it."""
    if _can_fork():
        for kind in kinds:
            if kind not in _prestarted:
                _prestarted[kind] = _Child(kind)


def discard_prestarted() -> None:
    """Stop the pre-started helpers no ``Helper`` took over (the command
    failed, or did not need them after all)."""
    while _prestarted:
        _prestarted.popitem()[1].close(kill=True)  # may still be loading


class Helper:
    """Runs jobs in a helper process of ``kind``, started on entry (or taken
    over from ``prestart``); with ``enabled`` false, or without fork, here."""

    def __init__(self, kind: Kind, enabled: bool = True) -> None:
        self.kind: Kind = kind
        self.enabled = enabled
        self._child: _Child | None = None

    def __enter__(self) -> Helper:
        if self.enabled:
            self._child = _prestarted.pop(self.kind, None)
            if self._child is None and _can_fork():
                self._child = _Child(self.kind)
        return self

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` in the helper (or here, without one).

        Raises:
            HelperError: the function failed in the helper, or the helper died.
        """
        child = self._child
        if child is None:
            return function(*args)
        from entro_net import config  # loaded by now, in the parent

        timeout = config.HELPER_JOB_TIMEOUT_S
        try:
            child.conn.send((function, args))
            if not child.conn.poll(timeout):
                child.close(kill=True)
                self._child = None
                raise HelperError(
                    f"the {self.kind} helper process did not answer within "
                    f"{timeout:g} s (stopped or overloaded)"
                )
            status, value = child.conn.recv()
        except (EOFError, OSError) as exc:
            raise HelperError(f"the {self.kind} helper process died: {exc!r}") from exc
        if status != "ok":
            error, trace = value
            import structlog  # only now: the sweep's start-up does without it

            structlog.get_logger().debug(
                "helper_job_failed", helper=self.kind, traceback=trace
            )
            raise HelperError(f"the {self.kind} helper failed: {error}")
        return value

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None
