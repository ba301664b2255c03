"""Encoding data sets with a model's encoder and saving the codes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ganzoo.data import ImageDataset, iterate_batches
from ganzoo.errors import GanzooError
from ganzoo.io.atomic import atomic_file, check_new_file

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


def _integer_dtype(num_codes: object) -> np.dtype:
    """The narrowest of int16 / int32 / int64 that holds every index of ``num_codes`` codes."""
    if isinstance(num_codes, int) and num_codes <= 2**15:
        return np.dtype(np.int16)
    if isinstance(num_codes, int) and num_codes <= 2**31:
        return np.dtype(np.int32)
    return np.dtype(np.int64)


@torch.no_grad()
def encode_dataset(
    model: ZooModel, data: ImageDataset, batch_size: int = 500
) -> dict[str, np.ndarray]:
    """Run ``model.encode`` over ``data`` in order; return ``{name: array}`` (plus ``labels``).

    Floating-point outputs (latent means...) are float32; integer outputs (a VQ-VAE's code
    indices) stay integers, in the narrowest type that holds every code of the model's
    codebook (int16 up to 32,768 codes, else int32).

    Raises:
        GanzooError: If ``data`` holds no images (there would be nothing to save).

    """
    if len(data) == 0:
        raise GanzooError(f"data set '{data.name}' holds no images; give at least one to encode")
    parts: dict[str, list[torch.Tensor]] = {}
    for images, _ in iterate_batches(data, batch_size, model.device):
        for name, value in _as_dict(model.encode(images)).items():
            parts.setdefault(name, []).append(
                value.float().cpu() if value.is_floating_point() else value.cpu()
            )
    integers = _integer_dtype(model.data_contract().get("num_codes"))
    codes = {}
    for name, chunks in parts.items():
        array = torch.cat(chunks).numpy()
        codes[name] = array if array.dtype.kind == "f" else array.astype(integers)
    if data.labels is not None:
        codes["labels"] = data.labels.numpy()
    return codes


def save_codes(codes: dict[str, np.ndarray], path: str | Path, overwrite: bool = False) -> Path:
    """Write codes to an ``.npz`` file atomically (a failed write leaves nothing behind).

    Args:
        codes: ``{name: array}``, as :func:`encode_dataset` returns.
        path: the destination, ending in ``.npz``.
        overwrite: replace an existing file (otherwise it is refused).

    Raises:
        GanzooError: if the path does not end in ``.npz``, exists, or cannot be written.

    """
    path = check_codes_path(path, overwrite)
    with atomic_file(path, overwrite) as handle:
        np.savez(handle, **codes)
    return path


def check_codes_path(path: str | Path, overwrite: bool = False) -> Path:
    """Check, before any work, that codes may be written to ``path``; return it as a ``Path``.

    Raises:
        GanzooError: for an empty path, a suffix other than ``.npz``, a folder, or an
            existing file without ``overwrite``.

    """
    if not str(path).strip():
        raise GanzooError("--out is empty; give an .npz file, e.g. --out codes.npz")
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise GanzooError(f"--out must end in .npz, got {path.name}")
    check_new_file(path, overwrite)
    return path
