"""Files that appear whole or not at all.

A result written in place and cut short (a full disk, a kill) looks like a
result; one written beside and renamed over its target never does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed onto ``path`` when
    the block ends without an error, removed when it raises."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text_atomic(path: Path, text: str, *, durable: bool = False) -> Path:
    """Write ``text`` to ``path`` whole or not at all; ``durable``: also
    flushed to the disk before the rename (a crash right after keeps it)."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    return path
