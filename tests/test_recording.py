"""Recordings: append, rotate, and read up to the last whole record."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entro_net.recording import (
    MAGIC,
    ReadStats,
    RecordingError,
    RecordWriter,
    read_recording,
)


def test_records_read_back_in_order(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "run.rec", max_bytes=1 << 20, keep=3)
    for i in range(100):
        writer.append(float(i), f"frame-{i}".encode())
    writer.close()

    records = list(read_recording(tmp_path / "run.rec"))
    assert [r.frame for r in records] == [f"frame-{i}".encode() for i in range(100)]
    assert records[-1].ts == 99.0


def test_a_torn_tail_is_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "run.rec"
    writer = RecordWriter(path, max_bytes=1 << 20, keep=3)
    for i in range(10):
        writer.append(float(i), b"x" * 50)
    writer.close()
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size - 7)

    stats = ReadStats()
    records = list(read_recording(path, stats=stats))
    assert len(records) == 9
    assert stats.torn_tail_bytes > 0


def test_a_corrupt_record_ends_the_file_instead_of_yielding_garbage(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.rec"
    writer = RecordWriter(path, max_bytes=1 << 20, keep=3)
    for i in range(5):
        writer.append(float(i), b"abcdef")
    writer.close()
    data = bytearray(path.read_bytes())
    data[-2] ^= 0xFF
    path.write_bytes(bytes(data))

    assert len(list(read_recording(path))) == 4


def test_rotation_keeps_the_newest_files_and_reads_oldest_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.rec"
    writer = RecordWriter(path, max_bytes=4096, keep=2)
    for i in range(400):
        writer.append(float(i), i.to_bytes(4, "big") * 8)
    writer.close()

    assert writer.rotations > 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run.rec",
        "run.rec.1",
        "run.rec.2",
    ]
    seen = [int.from_bytes(r.frame[:4], "big") for r in read_recording(path)]
    assert seen == sorted(seen)
    assert seen[-1] == 399
    assert all(p.stat().st_size <= 4096 for p in tmp_path.iterdir())


def test_not_a_recording_is_refused_with_the_path(tmp_path: Path) -> None:
    bogus = tmp_path / "x.rec"
    bogus.write_bytes(b"hello world, not a recording")
    with pytest.raises(RecordingError, match=r"x\.rec"):
        list(read_recording(bogus))
    with pytest.raises(RecordingError, match="no such recording"):
        list(read_recording(tmp_path / "missing.rec"))


WRITER = """
import sys, time
from entro_net.recording import RecordWriter
w = RecordWriter(sys.argv[1], max_bytes=1 << 30, keep=2)
i = 0
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    w.append(float(i), b"payload-%d" % i)
    i += 1
    if i == 2000:
        print("ready", flush=True)
"""


def test_a_writer_killed_with_sigkill_leaves_a_readable_recording(
    tmp_path: Path,
) -> None:
    path = tmp_path / "killed.rec"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)

    records = list(read_recording(path))
    assert len(records) >= 2000
    assert [r.frame for r in records[:3]] == [b"payload-0", b"payload-1", b"payload-2"]
    assert records[-1].frame == b"payload-%d" % (len(records) - 1)
    assert path.read_bytes().startswith(MAGIC)


def test_reopening_after_a_torn_tail_cuts_it_so_new_records_stay_readable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.rec"
    writer = RecordWriter(path, max_bytes=1 << 20, keep=3)
    for i in range(5):
        writer.append(float(i), b"before")
    writer.close()
    with path.open("ab") as handle:
        handle.write(b"\x40\x00\x00\x00torn")

    writer = RecordWriter(path, max_bytes=1 << 20, keep=3)
    writer.append(5.0, b"after")
    writer.close()

    stats = ReadStats()
    frames = [r.frame for r in read_recording(path, stats=stats)]
    assert frames == [b"before"] * 5 + [b"after"]
    assert stats.torn_tail_bytes == 0


def test_reopening_a_file_that_is_not_a_recording_refuses_to_append(
    tmp_path: Path,
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"some other file, long enough")

    with pytest.raises(RecordingError, match="bad magic"):
        RecordWriter(path, max_bytes=1 << 20, keep=3)
    assert path.read_bytes() == b"some other file, long enough"
