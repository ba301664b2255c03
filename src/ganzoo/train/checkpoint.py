"""Training checkpoints: folders written atomically, so a crash never leaves half of one.

The folder is swapped whole by :func:`ganzoo.io.atomic.write_folder_atomically`; this
module knows what goes in it.

A checkpoint folder holds the model in the Hub format (``config.json`` +
``model.safetensors``, loadable by :func:`ganzoo.from_pretrained`), the EMA
weights (``ema.safetensors``), the training state (``trainer_state.pt``:
optimisers, schedulers, step, RNG states; read back with
``torch.load(weights_only=True)``), the training config (``train_config.json``)
and a fingerprint of the training data (``data.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.io.atomic import previous_name

STATE_NAME = "trainer_state.pt"
EMA_NAME = "ema.safetensors"
TRAIN_CONFIG_NAME = "train_config.json"
DATA_NAME = "data.json"


def find_checkpoint(folder: str | Path) -> Path | None:
    """The complete checkpoint at ``folder``, or its ``.old`` twin if a swap was interrupted."""
    folder = Path(folder)
    for candidate in (folder, previous_name(folder)):
        if (candidate / STATE_NAME).is_file():
            return candidate
    return None


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the training state (tensors, numbers, strings) with ``torch.save``.

    Through a file object, so that a full disk surfaces as the ``OSError`` behind torch's
    error (:func:`ganzoo.io.atomic.write_error` names it).
    """
    with open(path, "xb") as handle:
        torch.save(state, handle)


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
