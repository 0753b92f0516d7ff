"""A child process that ends when its parent does.

Children that ``up`` and the sweep start (nodes, plotting and fitting
helpers) must not outlive a parent killed without the chance to reap them:
an orphan keeps running, and keeps the parent's stdout open, so a pipe
reading it never ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """In the child: get ``signum`` when the parent dies (Linux; elsewhere a
    no-op). Check ``os.getppid()`` afterwards: it may have died already."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum)
