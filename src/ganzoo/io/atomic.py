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
* a folder is swapped whole (:func:`write_folder_atomically`), and several files
  of one folder are replaced together (:func:`write_files_together`);
* SIGTERM removes the process's own temporaries before it ends the process (while
  SIGTERM has its default action), and a later write of the same name removes the
  temporaries of processes that no longer exist (:func:`remove_dead_temporaries`).

Only the standard library is imported, so the light paths (``import ganzoo``,
``ganzoo --help``) may use it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ganzoo.errors import GanzooError, exception_chain
from ganzoo.io.temporaries import (
    TEMPORARY_PATTERN,
    discard,
    remove_dead_temporaries,
    temporary_name,
    tracking,
)

__all__ = [
    "COMMIT_NAME",
    "OLD_SUFFIX",
    "atomic_file",
    "atomic_path",
    "check_new_file",
    "copy_file",
    "finish_files_together",
    "fsync_path",
    "fsync_tree",
    "is_write_failure",
    "make_folders",
    "previous_name",
    "remove_dead_temporaries",
    "remove_empty_folders",
    "remove_stale_temporaries",
    "temporary_name",
    "write_error",
    "write_files_together",
    "write_folder_atomically",
    "write_text",
]

#: The suffix of the previous folder for the instant of a swap
#: (:func:`write_folder_atomically`).
OLD_SUFFIX = ".old"
#: The folder in which files written together wait to be moved into place
#: (:func:`write_files_together`), and the list of them it holds.
COMMIT_NAME = ".ganzoo-commit"
COMMIT_LIST = ".ganzoo-files.json"


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
        remove_dead_temporaries(path)
        with tracking(tmp):
            yield tmp
            if fsync:
                fsync_path(tmp)
            if not overwrite and (path.exists() or path.is_symlink()):
                raise GanzooError(f"{path} appeared while writing; choose another --out")
            os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        remove_empty_folders(created)
        raise
    if fsync:
        fsync_path(path.parent)


@contextlib.contextmanager
def atomic_file(
    path: str | Path, overwrite: bool, *, fsync: bool = False, option: str = "--out"
) -> Iterator[IO[bytes]]:
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
        option: the option that chooses another destination, for the messages.

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
            raise write_error(path, exc, option=option) from None
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

    Raises:
        GanzooError: when the disk is full or the folder cannot be written, naming
            ``folder`` and saying that the previous one is intact.

    """
    folder = Path(folder)
    tmp = temporary_name(folder)
    old = previous_name(folder)
    remove_dead_temporaries(folder)
    with tracking(tmp):
        try:
            tmp.mkdir(parents=True)
            write(tmp)
            fsync_tree(tmp)
            if folder.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(folder, old)
            os.replace(tmp, folder)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, GanzooError) or not is_write_failure(exc):
                raise
            raise write_error(folder, exc, kept="the previous one is intact") from None
    fsync_path(folder.parent)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def _plain_names(value: Any) -> list[str]:
    """``value`` if it is a list of plain file names (no folder part), else ``ValueError``."""
    if not isinstance(value, list) or not all(
        isinstance(n, str) and n not in ("", ".", "..") and Path(n).name == n and "\\" not in n
        for n in value
    ):
        raise ValueError("not a list of file names")
    return value


def write_files_together(
    folder: str | Path, write: Callable[[Path], None], *, owned: Iterable[str] = ()
) -> Path:
    """Replace several files of ``folder`` together: a reader finds all old or all new ones.

    ``write(staged)`` writes the new files into a fresh temporary folder inside
    ``folder``. Once they are complete and flushed, it becomes ``<folder>/.ganzoo-commit``
    (:data:`COMMIT_NAME`) with the list of its files, in one rename: from that instant
    the new set is decided. Its files are then moved into ``folder``, and the ``owned``
    names that ``write`` did not write are removed. A crash before the rename leaves the
    old files; one after it is finished by :func:`finish_files_together` (loading the
    folder or resuming the run calls it). Other files of ``folder`` are left alone.

    Args:
        folder: the destination (created if missing).
        write: writes the files into the folder it is given.
        owned: names of the set that a write may leave out (removed when it does).

    Returns:
        ``folder``.

    Raises:
        GanzooError: if a name to write is a folder there, or the disk is full (the
            earlier files are then left as they were).

    """
    folder = Path(folder)
    if TEMPORARY_PATTERN.fullmatch(folder.name) and folder.is_dir():
        write(folder)  # inside another write's fresh temporary folder: atomic already
        return folder
    make_folders(folder)
    finish_files_together(folder)
    commit = folder / COMMIT_NAME
    staged = temporary_name(commit)
    remove_dead_temporaries(commit)
    with tracking(staged):
        try:
            staged.mkdir()
            write(staged)
            names = sorted(p.name for p in staged.iterdir())
            for name in names:
                if (folder / name).is_dir() and not (folder / name).is_symlink():
                    raise GanzooError(f"{folder / name} is a folder; move it away to write there")
            plan = {"put": names, "remove": sorted(set(owned) - set(names))}
            (staged / COMMIT_LIST).write_text(json.dumps(plan), encoding="utf-8")
            fsync_tree(staged)
            os.replace(staged, commit)
        except BaseException as exc:
            discard(staged)
            if isinstance(exc, GanzooError) or not is_write_failure(exc):
                raise
            raise write_error(folder, exc, kept="its earlier files are intact") from None
    fsync_path(folder)
    finish_files_together(folder)
    return folder


def finish_files_together(folder: str | Path) -> None:
    """Finish a :func:`write_files_together` that was interrupted after its rename.

    A no-op unless ``<folder>/.ganzoo-commit`` holds ganzoo's list of files; only the
    plain names that list gives are moved or removed, inside ``folder``.

    Raises:
        GanzooError: if the files cannot be moved (a read-only folder), or the list is
            not ganzoo's.

    """
    folder = Path(folder)
    commit = folder / COMMIT_NAME
    listing = commit / COMMIT_LIST
    if not listing.is_file():
        return
    try:
        plan = json.loads(listing.read_text(encoding="utf-8"))
        put, remove = _plain_names(plan["put"]), _plain_names(plan["remove"])
        for name in put:
            with contextlib.suppress(FileNotFoundError):  # moved by an earlier finish
                os.replace(commit / name, folder / name)
        for name in remove:
            (folder / name).unlink(missing_ok=True)
        listing.unlink(missing_ok=True)
    except FileNotFoundError:
        return  # another process finished it meanwhile
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GanzooError(
            f"cannot finish the interrupted write of {folder} ({exc}); make the folder "
            f"writable, or remove {commit} to keep its earlier files"
        ) from None
    shutil.rmtree(commit, ignore_errors=True)
    fsync_path(folder)


def remove_stale_temporaries(folder: str | Path) -> None:
    """Remove the temporaries of ``folder`` that killed processes left behind.

    Call it only while no other process writes ``folder`` (a training run calls it
    holding its run folder's lock).
    """
    folder = Path(folder)
    for tmp in folder.parent.glob(f".{folder.name}.tmp*"):
        discard(tmp)


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


def _os_error(exc: BaseException) -> OSError | None:
    """The operating system's error behind ``exc``, if any.

    The first ``OSError`` of its chain (numpy, PIL, zipfile and torch wrap or follow
    them), else one rebuilt from an ``(os error N)`` message (safetensors'
    ``SafetensorError``).
    """
    chain = exception_chain(exc)
    found = next((err for err in chain if isinstance(err, OSError)), None)
    if found is not None:
        return found
    for err in chain:
        if match := re.search(r"\(os error ([0-9]+)\)", str(err)):
            code = int(match[1])
            return OSError(code, os.strerror(code))
    return None


def write_error(
    path: str | Path, exc: BaseException, *, option: str = "--out", kept: str = ""
) -> GanzooError:
    """A one-line error for a failed write of ``path`` that names the fix.

    Args:
        path: what could not be written.
        exc: the failure.
        option: the option that chooses another destination.
        kept: what was left intact, said after the fix.

    """
    os_error = _os_error(exc) or exc
    code = getattr(os_error, "errno", None)
    if code == errno.EFBIG:
        reason = "the file size limit was reached (ulimit -f)"
        fix = "raise the limit, sample fewer images (-n) or write a folder of PNGs"
    elif code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        reason = "no space left on the device"
        fix = f"free some space or choose another {option}"
    else:
        reason = getattr(os_error, "strerror", None) or str(os_error) or type(os_error).__name__
        fix = f"choose another {option}"
    return GanzooError(f"cannot write {path}: {reason}; {fix}" + (f" ({kept})" if kept else ""))


def is_write_failure(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the operating system.

    That is an ``OSError`` in its chain, or safetensors' ``(os error N)``.
    """
    return _os_error(exc) is not None
