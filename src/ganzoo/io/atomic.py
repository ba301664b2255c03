"""Files and folders written atomically: the one writer every other goes through.

Whatever ganzoo writes (sample grids and arrays, codes, the FID cache, weights,
configs, model cards, run summaries, checkpoint folders) is written under a
temporary name beside its destination and renamed into place, so a reader never
sees half a file and a crash or Ctrl-C never leaves one:

* the temporary is ``.<name>.tmp<pid>-<random>``: no other process, thread or call
  shares it, and a file is opened with exclusive creation;
* on any failure (Ctrl-C included) the temporary, and any folder made for it, is
  removed and the destination is left as it was;
* ``fsync=True`` flushes the temporary before the rename and its folder after;
* ``overwrite=False`` refuses a destination that appeared while writing;
* a folder is swapped whole (:func:`write_folder_atomically`).

Only the standard library is imported, so the light paths (``import ganzoo``,
``ganzoo --help``) may use it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from ganzoo.errors import GanzooError, exception_chain

#: The suffix of the previous folder for the instant of a swap
#: (:func:`write_folder_atomically`).
OLD_SUFFIX = ".old"


def temporary_name(path: str | Path) -> Path:
    """A sibling name for ``path`` that no other writer uses: ``.<name>.tmp<pid>-<random>``.

    The process id tells which process left a temporary behind; the random part keeps
    two writes of one process (threads, nested calls) apart.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}-{secrets.token_hex(4)}")


def previous_name(folder: str | Path) -> Path:
    """Where :func:`write_folder_atomically` keeps the previous ``folder`` during a swap."""
    folder = Path(folder)
    return folder.with_name(f"{folder.name}{OLD_SUFFIX}")


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


def fsync_tree(folder: str | Path) -> None:
    """Flush every file under ``folder``, then the folders themselves."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fsync_path(Path(root) / name)
        fsync_path(root)


def make_folders(folder: str | Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, outermost first.

    Hand the list to :func:`remove_empty_folders` to undo a failed write.
    """
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove the folders :func:`make_folders` created, innermost first, if still empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _discard(tmp: Path) -> None:
    """Remove a temporary file or folder, whatever is left of it."""
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_path(
    path: str | Path, *, overwrite: bool = True, fsync: bool = False, parents: bool = False
) -> Iterator[Path]:
    """Yield a temporary path that becomes ``path`` only when the block succeeds.

    The block creates the temporary (for libraries that write to a file name, such as
    ``safetensors``); it is renamed over ``path`` at the end. On any failure (Ctrl-C
    included) the temporary, and any folder made for it, is removed.

    Args:
        path: the destination.
        overwrite: replace an existing ``path``; otherwise one that appeared while
            writing is refused.
        fsync: flush the temporary before the rename and its folder after (for files a
            crash must not lose).
        parents: create the missing parent folders (removed again on failure).

    Raises:
        GanzooError: if ``path`` appeared while writing and ``overwrite`` is false.

    """
    path = Path(path)
    tmp = temporary_name(path)
    created: list[Path] = []
    try:
        if parents:
            created = make_folders(path.parent)
        yield tmp
        if fsync:
            fsync_path(tmp)
        if not overwrite and (path.exists() or path.is_symlink()):
            raise GanzooError(f"{path} appeared while writing; choose another --out")
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        remove_empty_folders(created)
        raise
    if fsync:
        fsync_path(path.parent)


@contextlib.contextmanager
def atomic_file(path: str | Path, overwrite: bool, *, fsync: bool = False) -> Iterator[IO[bytes]]:
    """Yield a binary file that becomes ``path`` only when the block succeeds.

    Missing parent folders are created. On any failure (including Ctrl-C) the
    temporary file, and any folder made for it, are removed, so nothing half-written
    remains; a failure to write (a full disk, a size limit...) is raised as one line
    naming the fix (:func:`write_error`).

    Args:
        path: the destination.
        overwrite: replace an existing ``path``; otherwise one that appeared while
            writing is refused.
        fsync: flush the file to disk before the rename.

    Raises:
        GanzooError: if the file cannot be written, or appeared while writing.

    """
    path = Path(path)
    try:
        with (
            atomic_path(path, overwrite=overwrite, fsync=fsync, parents=True) as tmp,
            open(tmp, "xb") as handle,
        ):
            yield handle
    except BaseException as exc:
        if not isinstance(exc, GanzooError) and is_write_failure(exc):
            raise write_error(path, exc) from None
        raise


def write_text(path: str | Path, text: str, *, fsync: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename.

    Args:
        path: the destination (its folder must exist).
        text: its content.
        fsync: flush the file to disk before the rename, and its folder after (for files
            a crash must not lose).

    Returns:
        ``path``.

    """
    path = Path(path)
    with atomic_path(path, fsync=fsync) as tmp, open(tmp, "x", encoding="utf-8") as handle:
        handle.write(text)
    return path


def copy_file(source: str | Path, path: str | Path, *, fsync: bool = False) -> Path:
    """Copy the file ``source`` to ``path`` through a temporary file and a rename.

    Args:
        source: the file to copy.
        path: the destination (its folder must exist); replaced if it exists.
        fsync: flush the copy to disk before the rename.

    Returns:
        ``path``.

    """
    path = Path(path)
    with atomic_path(path, fsync=fsync) as tmp:
        shutil.copyfile(source, tmp)
    return path


def write_folder_atomically(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a fresh temporary folder, then swap it in for ``folder``.

    The temporary has a name no other writer uses (:func:`temporary_name`), and its
    files and itself are flushed to disk before the rename, so neither another process
    nor a power cut can leave a folder that looks complete but is not. The previous
    ``folder`` stays intact until the new one is complete; it is renamed to
    ``<folder>.old`` (:func:`previous_name`) for the instant of the swap and removed
    after. A failed write or swap removes the temporary.
    """
    folder = Path(folder)
    tmp = temporary_name(folder)
    old = previous_name(folder)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
        fsync_tree(tmp)
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_path(folder.parent)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def remove_stale_temporaries(folder: str | Path) -> None:
    """Remove the temporaries of ``folder`` that killed processes left behind.

    Call it only while no other process writes ``folder`` (a training run calls it
    holding its run folder's lock).
    """
    folder = Path(folder)
    for tmp in folder.parent.glob(f".{folder.name}.tmp*"):
        _discard(tmp)


# ----------------------------------------------------------------------------- refusals
def check_new_file(path: str | Path, overwrite: bool = False) -> None:
    """Refuse to write the file ``path`` over a folder, or over a file unless ``overwrite``.

    Raises:
        GanzooError: naming the fix (``--overwrite`` or another ``--out``).

    """
    path = Path(path)
    if path.is_dir():
        raise GanzooError(f"{path} is a folder; choose another --out (a file name)")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise GanzooError(
            f"{path} already exists; pass --overwrite to replace it or choose another --out"
        )


def write_error(path: str | Path, exc: BaseException) -> GanzooError:
    """A one-line error for a failed write of ``path`` that names the fix."""
    # the first OSError of the chain: numpy, PIL and zipfile wrap or follow them
    os_error = next((err for err in exception_chain(exc) if isinstance(err, OSError)), exc)
    code = getattr(os_error, "errno", None)
    if code == errno.EFBIG:
        reason = "the file size limit was reached (ulimit -f)"
        fix = "raise the limit, sample fewer images (-n) or write a folder of PNGs"
    elif code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        reason = "no space left on the device"
        fix = "free some space or choose another --out"
    else:
        reason = getattr(os_error, "strerror", None) or str(os_error) or type(os_error).__name__
        fix = "choose another --out"
    return GanzooError(f"cannot write {path}: {reason}; {fix}")


def is_write_failure(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the operating system (an ``OSError`` in its chain)."""
    return any(isinstance(err, OSError) for err in exception_chain(exc))
