"""Structured logging, configured once by the command line.

Console renderer on a terminal, JSON lines otherwise; the role and node id
are bound on every line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO, cast

import structlog


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at the time of each write.

    Binding the stream object at configure time would keep writing to a
    stream that was since replaced and closed (test capture, daemons).
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(
    role: str,
    node_id: str | None = None,
    level: str = "info",
    *,
    json: bool | None = None,
) -> None:
    """Set up structlog for this process.

    Args:
        role: ``node``, ``coordinator``, ``up``, ... bound on every event.
        node_id: the node's id, bound when given.
        level: the lowest level written.
        json: force JSON lines (True) or the console renderer (False);
            by default JSON unless stderr is a terminal.
    """
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(
            file=cast(TextIO, _CurrentStderr())
        ),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    bound: dict[str, Any] = {"role": role}
    if node_id is not None:
        bound["node"] = node_id
    structlog.contextvars.bind_contextvars(**bound)
