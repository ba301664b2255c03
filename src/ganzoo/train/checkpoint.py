"""Training checkpoints: folders written atomically, so a crash never leaves half of one.

A checkpoint folder holds the model in the Hub format (``config.json`` +
``model.safetensors``, loadable by :func:`ganzoo.from_pretrained`), the EMA
weights (``ema.safetensors``), the training state (``trainer_state.pt``:
optimisers, schedulers, step, RNG states; read back with
``torch.load(weights_only=True)``), the training config (``train_config.json``)
and a fingerprint of the training data (``data.json``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganzoo.atomic import fsync_path
from ganzoo.errors import GanzooError

STATE_NAME = "trainer_state.pt"
EMA_NAME = "ema.safetensors"
TRAIN_CONFIG_NAME = "train_config.json"
DATA_NAME = "data.json"


def fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder``, then the folders themselves."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fsync_path(Path(root) / name)
        fsync_path(root)


def temporary_name(folder: Path) -> Path:
    """A sibling name for ``folder`` that no other process uses: ``.<name>.tmp<pid>``."""
    return folder.with_name(f".{folder.name}.tmp{os.getpid()}")


def remove_stale_temporaries(folder: str | Path) -> None:
    """Remove the temporaries of ``folder`` that killed processes left behind.

    Call it only while holding the run folder's lock: no other process writes then.
    """
    folder = Path(folder)
    for tmp in folder.parent.glob(f".{folder.name}.tmp*"):
        shutil.rmtree(tmp, ignore_errors=True)


def write_folder_atomically(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a fresh temporary folder, then swap it in for ``folder``.

    The temporary has a per-process name, and its files and itself are flushed to disk
    before the rename, so neither another process nor a power cut can leave a folder
    that looks complete but is not. The previous ``folder`` stays intact until the new
    one is complete; it is renamed to ``<folder>.old`` for the instant of the swap and
    removed after.
    """
    folder = Path(folder)
    tmp = temporary_name(folder)
    old = folder.with_name(f"{folder.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
        fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
    os.replace(tmp, folder)
    fsync_path(folder.parent)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def find_checkpoint(folder: str | Path) -> Path | None:
    """The complete checkpoint at ``folder``, or its ``.old`` twin if a swap was interrupted."""
    folder = Path(folder)
    for candidate in (folder, folder.with_name(f"{folder.name}.old")):
        if (candidate / STATE_NAME).is_file():
            return candidate
    return None


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the training state (tensors, numbers, strings) with ``torch.save``."""
    torch.save(state, path)


def load_state(path: Path) -> dict[str, Any]:
    """Read the training state safely (``weights_only=True``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise GanzooError(
            f"cannot read training state {path}: {exc}; start without --resume"
        ) from None


def save_json(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON file (inside a folder being written atomically)."""
    path.write_text(
        json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )


def load_json(path: Path) -> dict[str, Any]:
    """Read a JSON object written by :func:`save_json`.

    Raises:
        GanzooError: if the file is missing, not JSON or not an object.

    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GanzooError(f"cannot read {path}: {exc}; start a new run") from None
    if not isinstance(data, dict):
        raise GanzooError(f"{path} is not a JSON object; start a new run")
    return data
