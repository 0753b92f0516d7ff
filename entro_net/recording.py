"""Append-only recordings of every message the coordinator sees.

A recording survives a crash (``kill -9`` included): each record is written
with one unbuffered ``write`` and carries its length and a CRC, so a reader
stops cleanly at the last whole record. Files rotate at a size limit and the
oldest are removed past a count.

Layout of a file: the 8-byte magic ``ENREC001``, then records of
``<u32 length><u32 crc32><f64 receive time><frame bytes>`` (little endian);
``length`` counts the frame bytes, the CRC covers time and frame.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from entro_net.errors import EntroNetError

MAGIC = b"ENREC001"
_HEAD = struct.Struct("<IId")
_CRC_PART = struct.Struct("<d")


class RecordingError(EntroNetError):
    """A recording cannot be opened or is not a recording."""

    def __init__(self, message: str, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class Record:
    """One recorded frame and when the coordinator received it."""

    ts: float
    frame: bytes


def encode_record(ts: float, frame: bytes) -> bytes:
    """One record's bytes, header first."""
    crc = zlib.crc32(frame, zlib.crc32(_CRC_PART.pack(ts)))
    return _HEAD.pack(len(frame), crc, ts) + frame


def rotated_paths(path: Path, keep: int) -> list[Path]:
    """The files of a recording, oldest first: ``F.keep`` … ``F.1``, ``F``."""
    older = [path.with_name(f"{path.name}.{i}") for i in range(keep, 0, -1)]
    return [p for p in older if p.exists()] + ([path] if path.exists() else [])


class RecordWriter:
    """Appends records to a file, rotating it at ``max_bytes``."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int, keep: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self.written = 0
        self.rotations = 0
        self._fd = -1
        self._size = 0
        self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise RecordingError(
                f"cannot open for writing: {exc.strerror}", self.path
            ) from exc
        size = os.fstat(fd).st_size
        if size == 0:
            os.write(fd, MAGIC)
            size = len(MAGIC)
        elif size > len(MAGIC):
            size = self._cut_torn_tail(fd, size)
        self._fd, self._size = fd, size

    def _cut_torn_tail(self, fd: int, size: int) -> int:
        """Reopening after a crash: drop a torn last record before appending.

        Records appended after a torn one would be unreachable, since a
        reader stops at the first record that does not check out.
        """
        stats = ReadStats()
        try:
            for _ in read_file(self.path, stats):
                pass
        except RecordingError:
            os.close(fd)
            raise
        if stats.torn_tail_bytes:
            size -= stats.torn_tail_bytes
            os.ftruncate(fd, size)
        return size

    def append(self, ts: float, frame: bytes) -> None:
        """Write one record; rotates first when the file would pass the limit."""
        data = encode_record(ts, frame)
        if self._size + len(data) > self.max_bytes and self._size > len(MAGIC):
            self._rotate()
        os.write(self._fd, data)
        self._size += len(data)
        self.written += 1

    def _rotate(self) -> None:
        os.close(self._fd)
        oldest = self.path.with_name(f"{self.path.name}.{self.keep}")
        if oldest.exists():
            oldest.unlink()
        for i in range(self.keep - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                src.rename(self.path.with_name(f"{self.path.name}.{i + 1}"))
        self.path.rename(self.path.with_name(f"{self.path.name}.1"))
        self.rotations += 1
        self._open()

    def close(self) -> None:
        """Flush to disk and close; safe to call twice."""
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


@dataclass
class ReadStats:
    """What reading a recording found besides whole records."""

    records: int = 0
    torn_tail_bytes: int = 0
    files: int = 0


def read_file(path: Path, stats: ReadStats) -> Iterator[Record]:
    """Every whole record of one file; stops at a torn or corrupt tail."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data):
            return
        raise RecordingError("not an ENTRO-NET recording (bad magic)", path)
    stats.files += 1
    offset = len(MAGIC)
    while offset + _HEAD.size <= len(data):
        length, crc, ts = _HEAD.unpack_from(data, offset)
        start = offset + _HEAD.size
        frame = data[start : start + length]
        if len(frame) < length:
            break
        if zlib.crc32(frame, zlib.crc32(_CRC_PART.pack(ts))) != crc:
            break
        stats.records += 1
        yield Record(ts, frame)
        offset = start + length
    stats.torn_tail_bytes += len(data) - offset


def read_recording(
    path: str | os.PathLike[str], keep: int = 64, stats: ReadStats | None = None
) -> Iterator[Record]:
    """Every whole record of a recording, its rotated files first.

    Raises:
        RecordingError: no such recording, or a file is not a recording.
    """
    base = Path(path)
    files = rotated_paths(base, keep)
    if not files:
        raise RecordingError("no such recording", base)
    tally = stats if stats is not None else ReadStats()
    for file in files:
        yield from read_file(file, tally)
