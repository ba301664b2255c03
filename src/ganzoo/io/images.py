"""Writing images: PNG grids, folders of PNGs and ``.npy`` / ``.npz`` arrays.

Only PIL and NumPy are used (no torchvision), so ``ganzoo sample`` starts fast.

Every file goes through :func:`ganzoo.io.atomic.atomic_file`: it is written to a
temporary name beside its destination and renamed into place, so an interrupted or
failed write never leaves a half-written image or array; an existing file, or a
folder that is not empty, is only written over when the caller says
``overwrite=True`` (``--overwrite``).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import torch

from ganzoo.errors import GanzooError
from ganzoo.io.atomic import (
    atomic_file,
    check_new_file,
    is_write_failure,
    make_folders,
    remove_empty_folders,
    write_error,
)

#: Suffixes saved as one grid image, with the PIL format that writes them.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
_PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}
#: Suffixes saved as one uint8 array ``(N, H, W, C)`` (``.npz``: under the key ``x``).
ARRAY_SUFFIXES = (".npy", ".npz")
#: Every accepted output, as error messages list them.
SUPPORTED_OUTPUTS = (
    "a grid image (" + ", ".join(IMAGE_SUFFIXES) + "), an array (.npy, .npz) "
    "or a folder of PNGs (a name without a suffix)"
)
#: The most images one grid holds.
MAX_GRID_IMAGES = 4096
#: The most pixels of a grid: PIL's own decompression-bomb threshold, so it can be reopened.
MAX_GRID_PIXELS = 89_478_485
#: The largest ``.npy`` / ``.npz`` written (bytes); more belongs in a folder of PNGs.
MAX_ARRAY_BYTES = 8 * 2**30


def to_uint8(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Map images from ``value_range`` to uint8 ``[0, 255]`` (clamped, rounded)."""
    low, high = value_range
    scaled = (images.detach().float() - low) / (high - low) * 255.0
    return scaled.clamp_(0, 255).round_().to(torch.uint8)


def _to_pixels(images: torch.Tensor, value_range: tuple[float, float]) -> np.ndarray:
    """``(N, C, H, W)`` images in ``value_range`` → contiguous uint8 ``(N, H, W, C)``."""
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    pixels = to_uint8(images.cpu(), value_range).permute(0, 2, 3, 1).numpy()
    return np.ascontiguousarray(pixels)


def _grid_shape(n: int, h: int, w: int, nrow: int | None, padding: int) -> tuple[int, int, int]:
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    return nrow, rows * (h + padding) + padding, nrow * (w + padding) + padding


def _tile(pixels: np.ndarray, nrow: int | None, padding: int) -> np.ndarray:
    n, h, w, c = pixels.shape
    nrow, height, width = _grid_shape(n, h, w, nrow, padding)
    grid = np.zeros((height, width, c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = pixels[i]
    return grid


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
    return _tile(_to_pixels(images, value_range), nrow, padding)


def _pil_image(array: np.ndarray):  # noqa: ANN202 - PIL imported lazily
    from PIL import Image

    if array.shape[-1] == 1:
        return Image.fromarray(array[..., 0], mode="L")
    return Image.fromarray(array)


def output_kind(path: str | Path) -> str:
    """What ``path`` asks for: ``"grid"``, ``"npy"``, ``"npz"`` or ``"folder"``.

    Raises:
        GanzooError: for an empty path or a suffix that is not supported.

    """
    if not str(path).strip():
        raise GanzooError(f"--out is empty; give {SUPPORTED_OUTPUTS}")
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "grid"
    if suffix in ARRAY_SUFFIXES:
        return suffix[1:]
    if suffix == "":
        return "folder"
    raise GanzooError(f"cannot write {suffix} files; --out must be {SUPPORTED_OUTPUTS}")


def check_output(path: str | Path, overwrite: bool = False) -> str:
    """Check that samples may be written to ``path``, before any work; return its kind.

    A file (grid or array) that exists, or a folder that is not empty, is refused
    unless ``overwrite`` (then a file is replaced, and a folder's PNGs of the same
    names are replaced while its other files stay).

    Raises:
        GanzooError: for an empty path, an unsupported suffix or an existing destination.

    """
    kind = output_kind(path)
    path = Path(path)
    if kind != "folder":
        check_new_file(path, overwrite)
    elif path.exists() and not path.is_dir():
        raise GanzooError(f"{path} is a file; choose another --out (a new or empty folder)")
    elif path.is_dir() and any(path.iterdir()) and not overwrite:
        raise GanzooError(
            f"{path} is a folder that is not empty; pass --overwrite to write into it "
            "(PNGs of the same names are replaced) or choose another --out"
        )
    return kind


def _free_bytes(folder: Path) -> int | None:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def _gigabytes(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


def check_output_size(path: Path, kind: str, n: int, image_shape: tuple[int, int, int]) -> None:
    """Refuse outputs too large to write in one piece, before sampling them.

    Args:
        path: the destination.
        kind: its kind (:func:`output_kind`).
        n: how many images.
        image_shape: one image's ``(H, W, C)``.

    Raises:
        GanzooError: naming the fix (fewer ``-n`` or a folder output).

    """
    h, w, c = image_shape
    if kind == "grid":
        _, height, width = _grid_shape(n, h, w, None, 2)
        if n > MAX_GRID_IMAGES or height * width > MAX_GRID_PIXELS:
            raise GanzooError(
                f"a grid of {n} images ({width}x{height} pixels) is too large "
                f"(at most {MAX_GRID_IMAGES} images and {MAX_GRID_PIXELS} pixels); "
                "sample fewer (-n) or write a folder of PNGs or an .npy"
            )
        return
    if kind in ("npy", "npz"):
        size = n * h * w * c
        if size > MAX_ARRAY_BYTES:
            raise GanzooError(
                f"{n} images make a {_gigabytes(size)} array (at most "
                f"{_gigabytes(MAX_ARRAY_BYTES)}); sample fewer (-n) or write a folder of PNGs"
            )
        free = _free_bytes(path.parent)
        if free is not None and size > free:
            raise GanzooError(
                f"{n} images make a {_gigabytes(size)} array but only {_gigabytes(free)} "
                f"is free under {path.parent}; free some space, sample fewer (-n) "
                "or choose another --out"
            )


def _write_npy(handle: IO[bytes], pixels: Iterator[np.ndarray], n: int, first: np.ndarray) -> int:
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
        "fortran_order": False,
        "shape": (n, *first.shape[1:]),
    }
    np.lib.format.write_array_header_2_0(handle, header)
    count = 0
    for block in itertools.chain([first], pixels):
        if block.shape[1:] != first.shape[1:]:
            raise ValueError(f"images changed shape: {first.shape[1:]} then {block.shape[1:]}")
        count += len(block)
        if count > n:
            raise ValueError(f"more images than the {n} announced")
        handle.write(memoryview(block).cast("B"))
    return count


def _write_array(
    handle: IO[bytes], kind: str, pixels: Iterator[np.ndarray], n: int, first: np.ndarray
) -> int:
    if kind == "npy":
        return _write_npy(handle, pixels, n, first)
    with (
        zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf,
        zf.open("x.npy", "w", force_zip64=True) as member,
    ):
        return _write_npy(member, pixels, n, first)  # type: ignore[arg-type]


def _write_folder(path: Path, pixels: Iterable[np.ndarray], n: int) -> int:
    width = max(6, len(str(n - 1)))
    existed = set(os.listdir(path)) if path.is_dir() else set()
    created = make_folders(path)
    written: list[str] = []
    try:
        for block in pixels:
            for image in block:
                name = f"{len(written):0{width}d}.png"
                with atomic_file(path / name, overwrite=True) as handle:
                    _pil_image(image).save(handle, format="PNG")
                written.append(name)
    except BaseException:
        for name in written:
            if name not in existed:
                with contextlib.suppress(OSError):
                    (path / name).unlink()
        remove_empty_folders(created)
        raise
    return len(written)


def save_samples(
    batches: Iterable[torch.Tensor],
    path: str | Path,
    n: int,
    value_range: tuple[float, float] = (-1.0, 1.0),
    overwrite: bool = False,
) -> Path:
    """Stream ``n`` images, given in batches, to ``path``; its suffix chooses the format.

    * ``*.png`` (or ``.jpg``, ``.jpeg``, ``.webp``, ``.bmp``): one grid image;
    * ``*.npy``: a uint8 array ``(N, H, W, C)``;
    * ``*.npz``: the same array under the key ``x`` (readable as ``npz:<file>`` data);
    * a name without a suffix: a folder with one PNG per image (``000000.png``…),
      written batch by batch as they come;
    * any other suffix is an error.

    Arrays are streamed to disk batch by batch; grids are limited to
    :data:`MAX_GRID_IMAGES` images and arrays to :data:`MAX_ARRAY_BYTES`, checked
    when the first batch arrives, before anything is written.

    Args:
        batches: ``(B, C, H, W)`` tensors in ``value_range``, ``n`` images in all.
        path: the destination.
        n: the number of images the batches hold.
        value_range: the images' value range.
        overwrite: replace an existing file, or write into a folder that is not empty.

    Returns:
        ``path``.

    Raises:
        GanzooError: if the destination is refused or cannot be written.

    """
    path = Path(path)
    kind = check_output(path, overwrite)
    pixels = (_to_pixels(batch, value_range) for batch in batches)
    if kind == "folder":
        try:
            count = _write_folder(path, pixels, n)
        except Exception as exc:
            if isinstance(exc, GanzooError) or not is_write_failure(exc):
                raise
            raise write_error(path, exc) from None
    else:
        first = next(pixels, None)
        if first is None:
            raise GanzooError("no images to save; sample at least 1 (-n)")
        check_output_size(path, kind, n, first.shape[1:])
        with atomic_file(path, overwrite) as handle:
            if kind == "grid":
                blocks = [first, *pixels]
                count = sum(len(b) for b in blocks)
                image = _pil_image(_tile(np.concatenate(blocks), None, 2))
                image.save(handle, format=_PIL_FORMATS[path.suffix.lower()])
            else:
                count = _write_array(handle, kind, pixels, n, first)
            if count != n:
                raise ValueError(f"expected {n} images, got {count}")
    if count != n:
        raise ValueError(f"expected {n} images, got {count}")
    return path


def save_grid(
    images: torch.Tensor,
    path: str | Path,
    nrow: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> Path:
    """Save images as one grid image, atomically (parent folders are created; replaces ``path``).

    Raises:
        GanzooError: if the suffix is not an image suffix or the file cannot be written.

    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _PIL_FORMATS:
        raise GanzooError(f"cannot write a grid as {path.name}; use one of {IMAGE_SUFFIXES}")
    grid = make_grid(images, nrow=nrow, value_range=value_range)
    with atomic_file(path, overwrite=True) as handle:
        _pil_image(grid).save(handle, format=_PIL_FORMATS[suffix])
    return path


def save_images(
    images: torch.Tensor,
    path: str | Path,
    value_range: tuple[float, float] = (-1.0, 1.0),
    overwrite: bool = False,
) -> Path:
    """Save images where ``path`` says: a grid (``.png``/``.jpg``…), ``.npy``, ``.npz`` or a folder.

    The formats are those of :func:`save_samples`; an existing file or a folder
    that is not empty is refused unless ``overwrite``.

    Raises:
        GanzooError: if the destination is refused or cannot be written.

    """
    return save_samples([images], path, len(images), value_range=value_range, overwrite=overwrite)
