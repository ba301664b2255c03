"""Temporary names of the atomic writer, and removing the ones nobody will finish.

:mod:`ganzoo.io.atomic` writes every file under a temporary name beside its
destination, ``.<name>.tmp<pid>-<8 hex digits>`` (:func:`temporary_name`). This
module names them and cleans up after processes that cannot:

* while a temporary is written on the main thread and SIGTERM has its default
  action, a SIGTERM handler removes this process's temporaries, then ends the
  process by SIGTERM as before (:func:`tracking`); a training run's own handler
  (:mod:`ganzoo.train.signals`) is left in place;
* SIGKILL cannot be caught: a later write of the same name removes the temporaries
  whose process no longer exists (:func:`remove_dead_temporaries`).

Only the standard library is imported.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: A temporary's name: ``.<name>.tmp<pid>-<8 hex digits>`` (:func:`temporary_name`).
TEMPORARY_PATTERN = re.compile(r"\.(?P<name>.+)\.tmp(?P<pid>[0-9]+)-[0-9a-f]{8}")
#: This process's temporaries being written (removed on SIGTERM) and, per folder
#: already looked at, the temporaries other processes left there, by target name.
_LIVE: dict[Path, None] = {}
_FOUND: dict[Path, dict[str, list[tuple[Path, int]]]] = {}
_LOCK = threading.Lock()

__all__ = ["TEMPORARY_PATTERN", "discard", "remove_dead_temporaries", "temporary_name", "tracking"]


def temporary_name(path: str | Path) -> Path:
    """A sibling name for ``path`` that no other writer uses: ``.<name>.tmp<pid>-<random>``.

    The process id tells which process left a temporary behind; the random part keeps
    two writes of one process (threads, nested calls) apart.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}-{secrets.token_hex(4)}")


def discard(tmp: Path) -> None:
    """Remove a temporary file or folder, whatever is left of it."""
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _process_exists(pid: int) -> bool:
    """Whether process ``pid`` may still exist (when unsure, it is taken to exist)."""
    if pid <= 0 or pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        return True  # PermissionError: it exists, owned by another user
    return True


def remove_dead_temporaries(path: str | Path) -> None:
    """Remove the temporaries of ``path`` left by processes that no longer exist.

    Only names of exactly :func:`temporary_name`'s pattern for ``path`` are touched,
    and only when their process id is of no running process (a killed ``ganzoo
    sample``). Each folder is listed once per process, so writing many files into one
    folder stays linear.
    """
    path = Path(path)
    folder = path.parent
    if TEMPORARY_PATTERN.fullmatch(folder.name):
        return  # a fresh temporary folder of this process
    with _LOCK:
        if folder not in _FOUND:
            found: dict[str, list[tuple[Path, int]]] = {}
            with contextlib.suppress(OSError):
                for entry in os.scandir(folder):
                    if match := TEMPORARY_PATTERN.fullmatch(entry.name):
                        pair = (folder / entry.name, int(match["pid"]))
                        found.setdefault(match["name"], []).append(pair)
            _FOUND[folder] = found
        left = _FOUND[folder].pop(path.name, [])
    for tmp, pid in left:
        if not _process_exists(pid):
            discard(tmp)


def _on_sigterm(signum: int, frame: Any) -> None:
    """Remove this process's temporaries, then end it by SIGTERM as the default would."""
    for tmp in list(_LIVE):
        discard(tmp)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def tracking(tmp: Path) -> Iterator[None]:
    """Count ``tmp`` as being written: SIGTERM removes it meanwhile (main thread only).

    The handler is set only while a temporary is written and SIGTERM has its default
    action, so a training run's own handler (:mod:`ganzoo.train.signals`) stays.
    """
    main = threading.current_thread() is threading.main_thread()
    with _LOCK:
        _LIVE[tmp] = None
        if main and len(_LIVE) == 1 and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        with _LOCK:
            _LIVE.pop(tmp, None)
            if main and not _LIVE and signal.getsignal(signal.SIGTERM) is _on_sigterm:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
