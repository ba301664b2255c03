"""File readers: IDX (MNIST), ``.npz``, CIFAR-10's pickled batches, and folders of images.

Every file under a data root is treated as hostile: a malformed file gives a one-line
:class:`~ganzoo.errors.GanzooError`, and nothing read here can run code. In particular
CIFAR-10's batches, which are Python pickles, are read by :class:`SafeBatchUnpickler`,
which admits only the few globals that rebuild numpy arrays.
"""

from __future__ import annotations

import gzip
import os
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.errors import GanzooError

__all__ = [
    "IMAGE_EXTENSIONS",
    "SafeBatchUnpickler",
    "read_cifar_batch",
    "read_idx",
    "read_image_files",
    "read_image_folder",
    "read_npz_arrays",
    "to_nchw",
]

#: File name endings read by :func:`read_image_folder` (and ``image:<file>``).
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


def first_line(exc: BaseException) -> str:
    """``"TypeName: first line of the message"``, for one-line errors that wrap another."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def missing(what: str, looked: str, how: str) -> GanzooError:
    """The one-line error for files that are not where they were looked for."""
    return GanzooError(f"{what} not found: looked for {looked}; {how}")


def labels_tensor(y: np.ndarray | Sequence[int]) -> torch.Tensor:
    """Labels as a fresh ``int64`` tensor of shape ``(N,)``."""
    return torch.from_numpy(np.asarray(y).astype(np.int64, copy=True).reshape(-1))


# --------------------------------------------------------------------------------------
# IDX

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytearray:
    """Read a whole file into a writable buffer, decompressing ``.gz`` files."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as f:
            return bytearray(f.read())
    size = path.stat().st_size
    buf = bytearray(size)
    with path.open("rb") as f:
        f.readinto(buf)
    return buf


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    The header is two zero bytes, a type code (``0x08`` for ``uint8``), the number of
    dimensions, then each dimension as a big-endian 32-bit integer.

    Args:
        path: The file; a name ending in ``.gz`` is decompressed.

    Returns:
        The array with its stored shape (native byte order).

    Raises:
        GanzooError: If the file is not a valid IDX file.

    """
    path = Path(path)
    buf = _read_bytes(path)
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_DTYPES:
        raise GanzooError(
            f"{path} is not an IDX file (bad magic number {bytes(buf[:4]).hex()}); "
            "delete it and download the data set again"
        )
    dtype = _IDX_DTYPES[buf[2]]
    ndim = buf[3]
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise GanzooError(
            f"{path} is truncated or corrupt (IDX header cut short); "
            "delete it and download the data set again"
        )
    dims = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(buf) != expected:
        raise GanzooError(
            f"{path} is truncated or corrupt (IDX header says {dims}, expected {expected} "
            f"bytes, file has {len(buf)}); delete it and download the data set again"
        )
    arr = np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=False)


# --------------------------------------------------------------------------------------
# npz


def read_npz_arrays(path: Path, require_y: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Read the image array ``x`` and the optional labels ``y`` of an ``.npz`` (no pickles).

    Args:
        path: The ``.npz`` file.
        require_y: Raise if there is no ``y``.

    Returns:
        ``(x, y)``, ``y`` being ``None`` when absent.

    Raises:
        GanzooError: If the file cannot be read, holds pickled objects, or lacks ``x``.

    """
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data.files:
                raise GanzooError(
                    f"{path} has no array 'x' (it has {', '.join(data.files) or 'none'}); "
                    "save the images as x=, e.g. np.savez(path, x=images, y=labels)"
                )
            x = data["x"]
            y = data["y"] if "y" in data.files else None
    except GanzooError:
        raise
    except Exception as exc:
        raise GanzooError(
            f"could not read {path} as .npz ({first_line(exc)}); "
            "save it with np.savez(path, x=images, y=labels)"
        ) from exc
    if require_y and y is None:
        raise GanzooError(f"{path} has no labels array 'y'; save it with np.savez(path, x=, y=)")
    return x, y


def to_nchw(x: np.ndarray, path: Path) -> np.ndarray:
    """Bring an image array to uint8 ``(N, C, H, W)``, detecting channels-last layouts.

    Args:
        x: ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)`` images, C in 1, 3, 4.
        path: The file it came from, for error messages.

    Returns:
        The images as uint8 ``(N, C, H, W)`` (a view where possible).

    Raises:
        GanzooError: For a non-integer dtype, values outside 0..255, or another shape.

    """
    if x.dtype != np.uint8:
        in_range = not x.size or (x.min() >= 0 and x.max() <= 255)
        if np.issubdtype(x.dtype, np.integer) and in_range:
            x = x.astype(np.uint8)
        else:
            raise GanzooError(
                f"{path}: x must be uint8 images (0..255), got {x.dtype}; convert with "
                "x = (x * 255).round().clip(0, 255).astype(np.uint8) for images in [0, 1]"
            )
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4:
        if x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3):
            return x.transpose(0, 3, 1, 2)
        if x.shape[1] in (1, 3, 4):
            return x
    raise GanzooError(
        f"{path}: x has shape {x.shape}; expected (N, H, W), (N, H, W, C) or (N, C, H, W) "
        "with C in 1, 3, 4"
    )


# --------------------------------------------------------------------------------------
# CIFAR-10 python batches


def _numpy_internal(modules: tuple[str, ...], name: str) -> Any:
    """Find a private numpy helper that moved between numpy 1 (``core``) and 2 (``_core``)."""
    import importlib

    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no {name} in {' or '.join(modules)}")


def _latin1_encode(text: str, encoding: str = "utf-8", *_: Any) -> bytes:
    """``_codecs.encode`` as Python 3 pickles ``bytes`` with protocols 0-2: latin-1 only."""
    if not isinstance(text, str) or encoding.replace("_", "-").lower() not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(
            f"_codecs.encode is admitted only for latin-1 text, got {type(text).__name__} "
            f"with encoding {encoding!r}"
        )
    return text.encode("latin-1")


def _array_globals() -> dict[tuple[str, str], Any]:
    reconstruct = _numpy_internal(
        ("numpy._core.multiarray", "numpy.core.multiarray"), "_reconstruct"
    )
    frombuffer = _numpy_internal(("numpy._core.numeric", "numpy.core.numeric"), "_frombuffer")
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for core in ("numpy.core", "numpy._core"):  # numpy 1 wrote core, numpy 2 writes _core
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


class SafeBatchUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild dicts, lists, bytes, str, numbers and numpy arrays only.

    A pickle names every callable it wants to run as a "global"; :meth:`find_class` admits
    exactly the ones numpy's arrays are pickled with (``numpy.ndarray``, ``numpy.dtype``,
    ``numpy.core.multiarray._reconstruct`` and, for protocol 5, ``numpy.core.numeric._frombuffer``,
    under numpy 1's and numpy 2's module names) plus ``_codecs.encode`` restricted to
    latin-1 (how Python 3 pickles ``bytes`` with protocols 0-2). Anything else, such as
    ``builtins.exec`` or ``os.system``, raises :class:`pickle.UnpicklingError` before it is
    called.
    """

    _allowed: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        """Return the admitted global ``module.name`` or refuse it."""
        if SafeBatchUnpickler._allowed is None:
            SafeBatchUnpickler._allowed = _array_globals()
        try:
            return SafeBatchUnpickler._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"it asks for the Python global {module}.{name}, which could run code"
            ) from None


def read_cifar_batch(path: Path, fix: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch without ever running code from it.

    Args:
        path: A ``data_batch_N`` or ``test_batch`` file: a pickled dict with ``b"data"``, a
            uint8 array ``(N, 3072)`` (red, green, blue planes of 32x32), and ``b"labels"``.
        fix: What the user can do instead, ending the error message.

    Returns:
        ``(images, labels)``: uint8 ``(N, 3, 32, 32)`` and int64 ``(N,)``.

    Raises:
        GanzooError: If the file asks for anything but plain data, or is not a batch.

    """

    def refuse(why: str) -> GanzooError:
        return GanzooError(f"refusing to read {path}: {why}; {fix}")

    try:
        with path.open("rb") as f:
            batch = SafeBatchUnpickler(f, encoding="bytes").load()
    except Exception as exc:
        why = str(exc) if isinstance(exc, pickle.UnpicklingError) else first_line(exc)
        raise refuse(why.splitlines()[0] if why else "not a pickle") from exc
    if not isinstance(batch, dict):
        raise refuse(f"it holds a {type(batch).__name__}, not a CIFAR-10 batch (a dict)")
    data = batch.get(b"data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.size % 3072:
        what = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise refuse(f"b'data' must be a uint8 array of shape (N, 3072), got {what}")
    images = np.ascontiguousarray(data).reshape(-1, 3, 32, 32)
    raw = batch.get(b"labels", batch.get(b"fine_labels"))
    labels = np.asarray(raw) if isinstance(raw, list | np.ndarray) else np.asarray([])
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (len(images),):
        raise refuse(f"b'labels' must be {len(images)} integer class labels")
    return images, labels.astype(np.int64)


# --------------------------------------------------------------------------------------
# Folders of images


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
        GanzooError: If the folder is missing, holds no images, or an image is unreadable.

    """
    if not directory.is_dir():
        raise missing("image folder", str(directory), "check the path after folder:")
    files = _image_files(directory)
    if not files:
        raise missing(
            "images",
            f"*.png/jpg/jpeg/bmp/webp under {directory}",
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

    Args:
        files: The image files (at least one).
        image_size: Output side length (Lanczos resizing after a centred square crop).
        channels: 1 (grayscale), 3 (RGB), or ``None``: 1 when every image is grayscale.

    Returns:
        uint8 images ``(len(files), C, image_size, image_size)``.

    Raises:
        GanzooError: If an image is unreadable.

    """
    from PIL import Image, ImageOps  # lazy: only needed for image files

    def opened(p: Path, use: Callable[[Any], Any]) -> Any:
        try:
            with Image.open(p) as im:
                return use(im)
        except Exception as exc:
            raise GanzooError(
                f"could not read image {p} ({first_line(exc)}); remove or fix it"
            ) from exc

    def load(p: Path, mode: str) -> np.ndarray:
        im = opened(p, lambda im: ImageOps.exif_transpose(im).convert(mode))
        w, h = im.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
        if side != image_size:
            im = im.resize((image_size, image_size), Image.Resampling.LANCZOS)
        arr = np.asarray(im, dtype=np.uint8)
        return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)

    workers = min(8, os.cpu_count() or 1, len(files))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        if channels is None:
            modes = list(pool.map(lambda p: opened(p, lambda im: im.mode), files))
            mode = "L" if all(m in _GRAY_MODES for m in modes) else "RGB"
        else:
            mode = "L" if channels == 1 else "RGB"
        arrays = list(pool.map(lambda p: load(p, mode), files))
    return torch.from_numpy(np.stack(arrays))
