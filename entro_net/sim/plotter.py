"""Draw plots in a forked helper process that loads matplotlib meanwhile.

Importing matplotlib costs about as long as a whole in-process sweep; a child
forked at the start imports it while the parent simulates and fits, then
draws what the parent hands it. Where fork is missing it draws in process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from entro_net.errors import EntroNetError

JOIN_TIMEOUT_S = 120.0


class PlotError(EntroNetError):
    """The plotting helper failed or died."""


def _warm_matplotlib() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot


def _serve(conn: Connection) -> None:
    """Child: import matplotlib, then run each job sent until told to stop."""
    try:
        _warm_matplotlib()
        while True:
            job = conn.recv()
            if job is None:
                return
            function, args = job
            try:
                conn.send(("ok", function(*args)))
            except Exception as exc:  # reported to the parent, which raises
                conn.send(("error", f"{exc!r}\n{traceback.format_exc()}"))
    except (EOFError, KeyboardInterrupt):
        return


class BackgroundPlotter:
    """Runs plotting functions in a child process started on entry."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._conn: Connection | None = None
        self._process: Any = None

    def __enter__(self) -> BackgroundPlotter:
        if self.enabled and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            parent, child = context.Pipe()
            self._process = context.Process(target=_serve, args=(child,), daemon=True)
            self._process.start()
            child.close()
            self._conn = parent
        return self

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` in the child (or here, without one).

        Raises:
            PlotError: the function failed in the child, or the child died.
        """
        if self._conn is None:
            return function(*args)
        try:
            self._conn.send((function, args))
            status, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise PlotError(f"the plotting process died: {exc!r}") from exc
        if status != "ok":
            raise PlotError(f"plotting failed: {value}")
        return value

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._conn.close()
        if self._process is not None:
            self._process.join(JOIN_TIMEOUT_S)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
