"""Files and folders written atomically (ganzoo.io.atomic), and that nothing else renames."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ganzoo
from ganzoo import GanzooError
from ganzoo.io import atomic

SRC = Path(ganzoo.__file__).resolve().parent
#: The one module allowed to rename files into place.
WRITER = SRC / "io" / "atomic.py"


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


def test_temporary_names_are_per_process_and_never_repeat(tmp_path):
    names = {atomic.temporary_name(tmp_path / "x.png").name for _ in range(100)}
    assert len(names) == 100
    assert all(name.startswith(f".x.png.tmp{os.getpid()}-") for name in names)


def test_atomic_file_makes_folders_and_removes_them_on_failure(tmp_path):
    path = tmp_path / "a" / "b" / "x.bin"
    with pytest.raises(RuntimeError), atomic.atomic_file(path, overwrite=False) as handle:
        handle.write(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with atomic.atomic_file(path, overwrite=False) as handle:
        handle.write(b"whole")
    assert path.read_bytes() == b"whole"
    assert [p.name for p in path.parent.iterdir()] == ["x.bin"]


def test_atomic_file_refuses_a_file_that_appeared_while_writing(tmp_path):
    path = tmp_path / "x.bin"
    with (
        pytest.raises(GanzooError, match="appeared while writing"),
        atomic.atomic_file(path, overwrite=False) as handle,
    ):
        handle.write(b"mine")
        path.write_bytes(b"theirs")
    assert path.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_atomic_file_names_the_fix_when_the_disk_is_full(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    with (
        pytest.raises(GanzooError, match="no space left on the device; free some space"),
        atomic.atomic_file(tmp_path / "x.bin", overwrite=True) as handle,
    ):
        handle.write(b"x")
    assert list(tmp_path.iterdir()) == []


def test_copy_file_replaces_the_destination(tmp_path):
    source, path = tmp_path / "grid.png", tmp_path / "samples.png"
    source.write_bytes(b"new")
    path.write_bytes(b"old")
    assert atomic.copy_file(source, path) == path
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "samples.png"]


def test_a_failed_folder_write_keeps_the_previous_folder(tmp_path):
    folder = tmp_path / "checkpoint"
    atomic.write_folder_atomically(folder, lambda tmp: (tmp / "a").write_text("1"))

    def half(tmp):
        (tmp / "a").write_text("2")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic.write_folder_atomically(folder, half)
    assert (folder / "a").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / ".checkpoint.tmp99999999").mkdir()
    (tmp_path / ".checkpoint.tmp1-abcd").write_text("x")
    atomic.remove_stale_temporaries(tmp_path / "checkpoint")
    assert list(tmp_path.iterdir()) == []


def test_the_writer_and_the_package_roots_import_no_torch():
    code = "import sys, ganzoo.io, ganzoo.io.atomic, ganzoo.metrics;print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _renames(path: Path) -> list[str]:
    """The calls in ``path`` that move a file into place (``os.replace``, ``Path.rename``...)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "shutil"):
            found += [
                f"from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name in ("replace", "rename", "renames", "move")
            ]
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, owner = node.func.attr, node.func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else None
        if (
            name in ("rename", "renames")
            or (name == "move" and owner_name == "shutil")
            or (name == "replace" and owner_name == "os")
            # Path.replace(target); str.replace takes two arguments, dataclasses.replace
            # and datetime.replace take keywords
            or (
                name == "replace"
                and owner_name != "dataclasses"
                and len(node.args) == 1
                and not node.keywords
            )
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_only_the_atomic_writer_renames_files_into_place():
    assert _renames(WRITER), "the check no longer sees io/atomic.py's own renames"
    offenders = {
        str(path.relative_to(SRC)): calls
        for path in sorted(SRC.rglob("*.py"))
        if path != WRITER and (calls := _renames(path))
    }
    assert not offenders, f"write through ganzoo.io.atomic instead: {offenders}"
