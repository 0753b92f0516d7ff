"""Results appear whole or not at all."""

from pathlib import Path

import pytest

from entro_net.files import atomic_path


def test_a_finished_write_replaces_the_target_and_leaves_nothing_else(
    tmp_path: Path,
) -> None:
    target = tmp_path / "sweep.json"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.json"]


def test_a_write_that_fails_leaves_the_old_file_and_no_part(tmp_path: Path) -> None:
    target = tmp_path / "sweep.json"
    target.write_text("old")
    with pytest.raises(OSError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(28, "disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.json"]
