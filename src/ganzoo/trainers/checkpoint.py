"""Training checkpoints: folders written atomically, so a crash never leaves half of one.

A checkpoint folder holds the model in the Hub format (``config.json`` +
``model.safetensors``, loadable by :func:`ganzoo.from_pretrained`), the EMA
weights (``ema.safetensors``), the training state (``trainer_state.pt``:
optimisers, schedulers, step, RNG states; read back with
``torch.load(weights_only=True)``) and the training config (``train_config.json``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import GanzooError

STATE_NAME = "trainer_state.pt"
EMA_NAME = "ema.safetensors"
TRAIN_CONFIG_NAME = "train_config.json"


def write_folder_atomically(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a fresh temporary folder, then swap it in for ``folder``.

    The previous ``folder`` stays intact until the new one is complete; it is renamed to
    ``<folder>.old`` for the instant of the swap and removed after.
    """
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    old = folder.with_name(f"{folder.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
    os.replace(tmp, folder)
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
