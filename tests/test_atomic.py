"""Small files written atomically (ganzoo.atomic)."""

import pytest

from ganzoo import atomic


def test_write_text_replaces_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("old", encoding="utf-8")
    atomic.write_text(path, "new", fsync=True)
    assert path.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    path.write_text("old", encoding="utf-8")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", fail)
    with pytest.raises(OSError):
        atomic.write_text(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]
