"""Encoding data sets with a model's encoder and saving the codes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ganzoo.data import ImageDataset, iterate_batches
from ganzoo.errors import GanzooError

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel


def _as_dict(encoded: object) -> dict[str, torch.Tensor]:
    if isinstance(encoded, torch.Tensor):
        return {"codes": encoded}
    if isinstance(encoded, dict):
        return dict(encoded)
    if isinstance(encoded, tuple) and hasattr(encoded, "_asdict"):
        return dict(encoded._asdict())
    raise TypeError(f"encode() returned {type(encoded).__name__}; expected a tensor or a dict")


@torch.no_grad()
def encode_dataset(
    model: ZooModel, data: ImageDataset, batch_size: int = 500
) -> dict[str, np.ndarray]:
    """Run ``model.encode`` over ``data`` in order; return ``{name: array}`` (plus ``labels``)."""
    parts: dict[str, list[torch.Tensor]] = {}
    for images, _ in iterate_batches(data, batch_size, model.device):
        for name, value in _as_dict(model.encode(images)).items():
            parts.setdefault(name, []).append(value.float().cpu())
    codes = {name: torch.cat(chunks).numpy() for name, chunks in parts.items()}
    if data.labels is not None:
        codes["labels"] = data.labels.numpy()
    return codes


def save_codes(codes: dict[str, np.ndarray], path: str | Path) -> Path:
    """Write codes to an ``.npz`` file atomically.

    Raises:
        GanzooError: if the path does not end in ``.npz`` or cannot be written.

    """
    path = Path(path)
    if path.suffix != ".npz":
        raise GanzooError(f"--out must end in .npz, got {path.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.npz")
        np.savez(tmp, **codes)
        os.replace(tmp, path)
    except OSError as exc:
        raise GanzooError(
            f"cannot write {path}: {exc.strerror or exc}; choose another --out"
        ) from None
    return path
