"""File readers: IDX (MNIST), ``.npz`` and CIFAR-10's pickled batches (pictures: ``pictures``).

Every file under a data root is treated as hostile: a malformed file gives a one-line
:class:`~ganzoo.errors.GanzooError`, and nothing read here can run code. In particular
CIFAR-10's batches, which are Python pickles, are read by :class:`SafeBatchUnpickler`,
which admits only the few globals that rebuild numpy arrays.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import stat
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from ganzoo.errors import GanzooError, first_line

__all__ = [
    "MAX_IDX_BYTES",
    "SafeBatchUnpickler",
    "read_cifar_batch",
    "read_idx",
    "read_npz_arrays",
    "refuse_special_file",
    "require_path",
    "special_file_kind",
    "to_nchw",
]

_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def missing(what: str, looked: str, how: str) -> GanzooError:
    """The one-line error for files that are not where they were looked for."""
    return GanzooError(f"{what} not found: looked for {looked}; {how}")


def special_file_kind(path: Path) -> str | None:
    """What ``path`` is when it exists but is neither a regular file nor a folder.

    Only ``stat`` looks at it: a FIFO is never opened (opening one waits for a writer).

    Returns:
        ``"a FIFO (named pipe)"``, ``"a character device"``, ``"a block device"`` or
        ``"a socket"``; ``None`` for a regular file, a folder or a missing path.

    """
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return None
    return next((kind for test, kind in _SPECIAL_KINDS if test(mode)), None)


def refuse_special_file(path: Path, wanted: str = "a regular file") -> None:
    """Refuse ``path`` if it is a FIFO, a device or a socket (only ``stat`` looks at it).

    Args:
        path: What a user named.
        wanted: What it should have been, e.g. ``"a folder"``, for the message.

    Raises:
        GanzooError: One line saying what ``path`` is.

    """
    kind = special_file_kind(path)
    if kind is not None:
        raise GanzooError(
            f"{path} is {kind}, not {wanted}; ganzoo reads data from regular files and "
            "folders only: save the data to a file and give its path"
        )


def require_path(path: Path, what: str, how: str, folder: bool = False) -> None:
    """Refuse a missing ``path``, or a FIFO, device or socket, before anything opens it.

    Args:
        path: The file (or, with ``folder``, the folder) a user named.
        what: What it should be, e.g. ``"npz file"``, for the message.
        how: The fix for a missing path.
        folder: ``path`` must be a folder rather than a regular file.

    Raises:
        GanzooError: One line saying what is, or is not, there.

    """
    refuse_special_file(path, "a folder" if folder else "a regular file")
    if not (path.is_dir() if folder else path.is_file()):
        raise missing(what, str(path), how)


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


#: The most bytes of data one IDX file may claim (MNIST's training images: 47 MB).
MAX_IDX_BYTES = 2**32


def _corrupt(path: Path, why: str) -> GanzooError:
    return GanzooError(
        f"{path} is truncated or corrupt ({why}); delete it and download the data set again"
    )


def _read_exactly(f: BinaryIO, size: int) -> bytearray:
    """Read up to ``size`` bytes, in chunks: a short stream gives a shorter buffer."""
    buf = bytearray()
    while len(buf) < size:
        chunk = f.read(min(1 << 24, size - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_idx_stream(f: BinaryIO, path: Path, plain_size: int | None) -> np.ndarray:
    """Read an IDX header, then no more data than it claims (a gzip bomb stops there)."""
    magic = _read_exactly(f, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
        raise GanzooError(
            f"{path} is not an IDX file (bad magic number {bytes(magic).hex()}); "
            "delete it and download the data set again"
        )
    dtype, ndim = _IDX_DTYPES[magic[2]], magic[3]
    raw_dims = _read_exactly(f, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise _corrupt(path, "IDX header cut short")
    dims = tuple(int.from_bytes(raw_dims[i : i + 4], "big") for i in range(0, 4 * ndim, 4))
    size = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    if size > MAX_IDX_BYTES:
        raise GanzooError(
            f"{path}: its IDX header says {dims}, {size:,} bytes of data, more than the "
            f"{MAX_IDX_BYTES:,} ganzoo reads; it is corrupt or not a data set: delete it"
        )
    header = 4 + 4 * ndim
    if plain_size is not None and plain_size != header + size:
        raise _corrupt(
            path,
            f"IDX header says {dims}, expected {header + size} bytes, file has {plain_size}",
        )
    data = _read_exactly(f, size)
    if len(data) < size:
        raise _corrupt(
            path,
            f"IDX header says {dims}, expected {header + size} bytes, file has "
            f"{header + len(data)}",
        )
    if f.read(1):
        raise _corrupt(
            path, f"IDX header says {dims}, {header + size} bytes, but the file holds more"
        )
    arr = np.frombuffer(data, dtype=dtype).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    The header is two zero bytes, a type code (``0x08`` for ``uint8``), the number of
    dimensions, then each dimension as a big-endian 32-bit integer. No more data than
    the header claims is read, nor decompressed: a ``.gz`` file that holds more (a
    "gzip bomb") is refused as soon as it passes that size, and so is a header that
    claims more than :data:`MAX_IDX_BYTES`.

    Args:
        path: The file; a name ending in ``.gz`` is decompressed.

    Returns:
        The array with its stored shape (native byte order).

    Raises:
        GanzooError: If the file is not a valid IDX file.

    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return _read_idx_stream(f, path, None)
        with path.open("rb") as f:
            return _read_idx_stream(f, path, os.fstat(f.fileno()).st_size)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _corrupt(path, first_line(exc)) from exc


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
        GanzooError: For a non-integer dtype, values outside 0..255, another shape, no
            images, or images with a side of 0 pixels.

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
        return _non_empty(x[:, None], x.shape, path)
    if x.ndim == 4:
        if x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3):
            return _non_empty(x.transpose(0, 3, 1, 2), x.shape, path)
        if x.shape[1] in (1, 3, 4):
            return _non_empty(x, x.shape, path)
    raise GanzooError(
        f"{path}: x has shape {x.shape}; expected (N, H, W), (N, H, W, C) or (N, C, H, W) "
        "with C in 1, 3, 4"
    )


def _non_empty(x: np.ndarray, stored: tuple[int, ...], path: Path) -> np.ndarray:
    """``x`` (N, C, H, W) if it holds at least one image with both sides of a pixel or more."""
    if x.shape[0] == 0:
        raise GanzooError(f"{path}: x holds no images (shape {stored}); save at least one image")
    if 0 in x.shape[2:]:
        raise GanzooError(
            f"{path}: x has shape {stored}, images with a side of 0 pixels; "
            "save images at least 1x1 pixel in x"
        )
    return x


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
