"""Writing samples: PNG grids, folders of PNGs and ``.npy`` arrays.

Only PIL and NumPy are used (no torchvision), so ``ganzoo sample`` starts fast.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ganzoo.errors import GanzooError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def to_uint8(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Map images from ``value_range`` to uint8 ``[0, 255]`` (clamped, rounded)."""
    low, high = value_range
    scaled = (images.detach().float() - low) / (high - low) * 255.0
    return scaled.clamp_(0, 255).round_().to(torch.uint8)


def make_grid(
    images: torch.Tensor,
    nrow: int | None = None,
    padding: int = 2,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> np.ndarray:
    """Tile ``(N, C, H, W)`` images into one ``(H', W', C)`` uint8 array.

    Args:
        images: images in ``value_range``.
        nrow: images per row (default: a square-ish grid).
        padding: black pixels between tiles.
        value_range: the images' value range.

    """
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    pixels = to_uint8(images.cpu(), value_range).permute(0, 2, 3, 1).numpy()
    grid = np.zeros(
        (rows * (h + padding) + padding, nrow * (w + padding) + padding, c), dtype=np.uint8
    )
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = pixels[i]
    return grid


def _pil_image(array: np.ndarray):  # noqa: ANN202 - PIL imported lazily
    from PIL import Image

    if array.shape[-1] == 1:
        return Image.fromarray(array[..., 0], mode="L")
    return Image.fromarray(array)


def save_grid(
    images: torch.Tensor,
    path: str | Path,
    nrow: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> Path:
    """Save images as one PNG grid (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _pil_image(make_grid(images, nrow=nrow, value_range=value_range)).save(path)
    return path


def save_images(
    images: torch.Tensor, path: str | Path, value_range: tuple[float, float] = (-1.0, 1.0)
) -> Path:
    """Save images where ``path`` says: a grid (``.png``/``.jpg``…), an ``.npy`` or a folder.

    * ``*.png`` (or another image suffix): one grid image;
    * ``*.npy``: a uint8 array ``(N, H, W, C)``;
    * anything else: a folder with one PNG per image (``000000.png``…).

    Raises:
        GanzooError: if the destination cannot be written.

    """
    path = Path(path)
    try:
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            return save_grid(images, path, value_range=value_range)
        pixels = to_uint8(images.cpu(), value_range).permute(0, 2, 3, 1).numpy()
        if suffix == ".npy":
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, pixels)
            return path
        path.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(pixels):
            _pil_image(image).save(path / f"{i:06d}.png")
        return path
    except OSError as exc:
        raise GanzooError(
            f"cannot write {path}: {exc.strerror or exc}; choose another --out"
        ) from None
