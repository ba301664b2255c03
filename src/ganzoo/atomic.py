"""Small files written atomically: a per-process temporary name, then a rename.

A reader never sees half a file, and two processes writing the same file never
share a temporary. Folders of files (checkpoints) are swapped whole by
:func:`ganzoo.train.checkpoint.write_folder_atomically`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_path(path: str | Path) -> None:
    """Flush a file or a folder entry to disk (a no-op where folders cannot be opened)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if Path(path).is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: str | Path, text: str, *, fsync: bool = False) -> Path:
    """Write ``text`` to ``path`` through ``.<name>.tmp<pid>`` and a rename.

    Args:
        path: the destination.
        text: its content (UTF-8).
        fsync: flush the temporary file to disk before the rename (for files a crash
            must not lose).

    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        if fsync:
            fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path
