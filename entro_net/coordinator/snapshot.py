"""The coordinator's state on disk, so a restarted coordinator goes on.

``--state-file FILE`` makes the coordinator write ``CoordinatorCore.snapshot``
there (a temporary file renamed over it, so a crash leaves the old or the new
one, never half of one) after every decision or membership change and at
least every ``state_interval_s``; a coordinator that starts with the file
present restores membership, θ_net and the isolation epochs from it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import structlog

from entro_net.files import write_text_atomic

log = structlog.get_logger()


def load_snapshot(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The snapshot at ``path``; None (with a warning) when missing or unreadable."""
    target = Path(path)
    if not target.exists():
        return None
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("state_file_unreadable", path=str(target), error=str(exc))
        return None
    if not isinstance(data, dict):
        log.warning("state_file_unreadable", path=str(target), error="not an object")
        return None
    return data


def save_snapshot(path: str | os.PathLike[str], snapshot: dict[str, Any]) -> None:
    """Write ``snapshot`` to ``path`` atomically (fsync, then rename)."""
    write_text_atomic(Path(path), json.dumps(snapshot), durable=True)
