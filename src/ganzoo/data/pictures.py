"""Reading pictures and folders of pictures, each a hostile file until checked.

Before a picture is decoded, :func:`open_picture` checks that it is a regular file, that
it has at most :func:`pixel_limit` pixels (Pillow reads the size from the header, so a
small file that would decode into gigabytes is refused without decoding it), and that
it is a still picture, not an animation. :func:`flatten_picture` then lays a picture
with transparency onto the data sets' black background.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.data.readers import missing, refuse_special_file, require_path
from ganzoo.errors import GanzooError, first_line

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PICTURE_PIXELS",
    "PIXEL_LIMIT_VARIABLE",
    "flatten_picture",
    "open_picture",
    "pillow_defers_to_ganzoo",
    "pixel_limit",
    "read_image_files",
    "read_image_folder",
]

#: File name endings read by :func:`read_image_folder` (and ``image:<file>``).
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif"})
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
#: The most pixels a picture may have (Pillow's own decompression-bomb threshold; a
#: 9,459 x 9,459 picture). :data:`PIXEL_LIMIT_VARIABLE` changes it.
MAX_PICTURE_PIXELS = 89_478_485
#: The environment variable that sets another pixel limit for pictures.
PIXEL_LIMIT_VARIABLE = "GANZOO_MAX_PIXELS"

_PILLOW_LIMIT = threading.Lock()


def pixel_limit() -> int:
    """The most pixels a picture may have: ``GANZOO_MAX_PIXELS`` if set, else the default.

    Raises:
        GanzooError: If ``GANZOO_MAX_PIXELS`` is not a positive whole number.

    """
    raw = os.environ.get(PIXEL_LIMIT_VARIABLE, "").strip().replace("_", "")
    if not raw:
        return MAX_PICTURE_PIXELS
    if not raw.isdigit() or int(raw) < 1:
        raise GanzooError(
            f"{PIXEL_LIMIT_VARIABLE}={os.environ[PIXEL_LIMIT_VARIABLE]!r} is not a positive "
            f"whole number of pixels; unset it to use {MAX_PICTURE_PIXELS:,}"
        )
    return int(raw)


@contextlib.contextmanager
def pillow_defers_to_ganzoo() -> Iterator[int]:
    """While pictures are read, Pillow's own size check gives way to ganzoo's; yield the limit.

    Pillow warns (``DecompressionBombWarning``, two lines) about pictures over its
    threshold when it opens them, and refuses those over twice that, both before the
    caller can look at the size. Inside this block its process-wide threshold
    (``PIL.Image.MAX_IMAGE_PIXELS``) is off and every picture is checked against
    :func:`pixel_limit` by :func:`open_picture` instead, before it is decoded; the
    threshold is put back afterwards. Reads in several threads take turns.
    """
    from PIL import Image

    limit = pixel_limit()
    with _PILLOW_LIMIT:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield limit
        finally:
            Image.MAX_IMAGE_PIXELS = saved


@contextlib.contextmanager
def open_picture(path: Path, limit: int) -> Iterator[Any]:
    """Open a still picture of at most ``limit`` pixels, lazily (nothing decoded yet).

    Call it inside :func:`pillow_defers_to_ganzoo`, which gives ``limit``.

    Args:
        path: The picture.
        limit: The most pixels it may have.

    Yields:
        The ``PIL.Image.Image``, closed when the block ends.

    Raises:
        GanzooError: If ``path`` is not a regular file, is larger than ``limit`` pixels,
            is animated, or is not a picture Pillow reads.

    """
    from PIL import Image

    refuse_special_file(path, "a picture file")
    try:
        im = Image.open(path)
    except Exception as exc:
        raise GanzooError(
            f"could not read image {path} ({first_line(exc)}); remove or fix it"
        ) from exc
    with im:
        width, height = im.size
        if width * height > limit:
            raise GanzooError(
                f"picture {path} is {width}x{height} ({width * height:,} pixels), over the "
                f"limit of {limit:,} pixels for pictures; shrink it, or raise the limit with "
                f"{PIXEL_LIMIT_VARIABLE}={width * height}"
            )
        if getattr(im, "is_animated", False):
            raise GanzooError(
                f"{path} is an animated picture ({getattr(im, 'n_frames', 'several')} frames); "
                "ganzoo reads still pictures only: save the frame you want as a .png"
            )
        yield im


def flatten_picture(im: Any, mode: str) -> Any:
    """Turn a picture upright and into ``mode`` (``"L"`` or ``"RGB"``), without its transparency.

    A picture with transparency (an alpha channel, or a transparent colour) is laid
    onto black, the background of the digit sets (white strokes on black): a white
    drawing on a transparent background reads as it would in MNIST. When that leaves
    nothing to see, because every pixel has one colour and the drawing is in the alpha
    channel only (black strokes on a transparent background, as drawing programs often
    save them), the alpha channel is the drawing: white strokes on black.

    Args:
        im: An open ``PIL.Image.Image``.
        mode: ``"L"`` (grayscale) or ``"RGB"``.

    Returns:
        A new ``PIL.Image.Image`` in ``mode``.

    """
    from PIL import Image, ImageOps

    im = ImageOps.exif_transpose(im)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if not has_alpha:
        return im.convert(mode)
    rgba = im.convert("RGBA")
    black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    laid = Image.alpha_composite(black, rgba).convert(mode)
    alpha = rgba.getchannel("A")
    low, high = alpha.getextrema()
    flat = all(a == b for a, b in _extrema(laid))
    return alpha.convert(mode) if flat and low != high else laid


def _extrema(im: Any) -> list[tuple[int, int]]:
    """``(min, max)`` of each band (``getextrema`` gives one pair for a one-band picture)."""
    found = im.getextrema()
    return [found] if im.mode == "L" else list(found)


def _image_files(directory: Path) -> list[Path]:
    return sorted(
        (p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
        key=lambda p: p.relative_to(directory).as_posix(),
    )


def read_image_folder(
    directory: Path, image_size: int, channels: int | None = None
) -> tuple[torch.Tensor, torch.Tensor | None, tuple[str, ...] | None]:
    """Read every image under ``directory``, center-cropped and resized to a square.

    Files are read in sorted relative-path order. When every image sits exactly one
    subfolder deep (ImageFolder style), the subfolder names are the classes, in sorted
    order, and give the labels.

    Args:
        directory: The folder.
        image_size: Output side length; images are center-cropped to a square and resized
            with Lanczos.
        channels: 1 converts every image to grayscale, 3 to RGB; ``None`` gives one
            channel when all images are grayscale and three otherwise.

    Returns:
        ``(images, labels, classes)``: uint8 ``(N, C, image_size, image_size)``, int64
        labels or ``None``, class names or ``None``.

    Raises:
        GanzooError: If the folder is missing or not a folder, holds no images, or an
            image is refused (see :func:`read_image_files`).

    """
    require_path(directory, "image folder", "check the path after folder:", folder=True)
    files = _image_files(directory)
    if not files:
        raise missing(
            "images",
            f"*.png/jpg/jpeg/bmp/webp/gif under {directory}",
            "put image files there (optionally in one subfolder per class)",
        )
    images = read_image_files(files, image_size, channels)
    rel_parts = [p.relative_to(directory).parts for p in files]
    if all(len(parts) == 2 for parts in rel_parts):
        classes = tuple(sorted({parts[0] for parts in rel_parts}))
        index = {c: i for i, c in enumerate(classes)}
        labels = torch.tensor([index[parts[0]] for parts in rel_parts], dtype=torch.int64)
        return images, labels, classes
    return images, None, None


def read_image_files(
    files: Sequence[Path], image_size: int, channels: int | None = None
) -> torch.Tensor:
    """Read image files, in order, center-cropped and resized to ``image_size`` squares.

    Each picture is checked before it is decoded (:func:`open_picture`: a regular file,
    at most :func:`pixel_limit` pixels, not animated), and one with transparency is laid
    onto black (:func:`flatten_picture`).

    Args:
        files: The image files (at least one).
        image_size: Output side length (Lanczos resizing after a centred square crop).
        channels: 1 (grayscale), 3 (RGB), or ``None``: 1 when every image is grayscale.

    Returns:
        uint8 images ``(len(files), C, image_size, image_size)``.

    Raises:
        GanzooError: If an image is unreadable, too large, animated or not a regular file.

    """
    from PIL import Image  # lazy: only needed for image files

    def opened(p: Path, use: Callable[[Any], Any]) -> Any:
        with open_picture(p, limit) as im:
            try:
                return use(im)
            except Exception as exc:
                raise GanzooError(
                    f"could not read image {p} ({first_line(exc)}); remove or fix it"
                ) from exc

    def load(p: Path, mode: str) -> np.ndarray:
        im = opened(p, lambda im: flatten_picture(im, mode))
        w, h = im.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
        if side != image_size:
            im = im.resize((image_size, image_size), Image.Resampling.LANCZOS)
        arr = np.asarray(im, dtype=np.uint8)
        return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)

    workers = min(8, os.cpu_count() or 1, len(files))
    with pillow_defers_to_ganzoo() as limit, ThreadPoolExecutor(max_workers=workers) as pool:
        if channels is None:
            modes = list(pool.map(lambda p: opened(p, lambda im: im.mode), files))
            mode = "L" if all(m in _GRAY_MODES for m in modes) else "RGB"
        else:
            mode = "L" if channels == 1 else "RGB"
        arrays = list(pool.map(lambda p: load(p, mode), files))
    return torch.from_numpy(np.stack(arrays))
