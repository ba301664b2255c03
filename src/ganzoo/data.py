"""Image data sets as uint8 tensors, their loaders, and device-resident batching.

Every data set is loaded whole into memory as an :class:`ImageDataset`: a
``uint8`` tensor of shape ``(N, C, H, W)`` plus optional ``int64`` labels. The
sets the zoo trains on are small (MNIST is 47 MB, CIFAR-10 150 MB), so the
training loop keeps them on the accelerator with :class:`DeviceBatcher` and
draws mini-batches by index there, with no per-step host work.

Known names for :func:`load_dataset`:

* ``mnist`` and ``fashion-mnist``: the IDX files, in torchvision's layout
  ``<root>/MNIST/raw`` and ``<root>/FashionMNIST/raw`` (plain or ``.gz``);
  Fashion-MNIST is also read from the Debian package ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``).
* ``cifar10``: torchvision's ``<root>/cifar-10-batches-py`` or
  ``<root>/cifar10/{train,test}.npz``.
* ``art64``: ``<root>/abstract-art/images64.npz`` (64x64 RGB, no labels).
* ``npz:<file>``: any ``.npz`` with an image array ``x`` and optional labels ``y``.
* ``folder:<dir>``: a folder of image files, ImageFolder-style class subfolders
  give labels.

The root is the ``root`` argument, else the ``GANZOO_DATA`` environment
variable, else ``~/.cache/ganzoo/data`` (see :func:`default_root`).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pickle
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ganzoo.errors import GanzooError, did_you_mean

__all__ = [
    "DEBIAN_FASHION_MNIST_DIR",
    "DATASET_NAMES",
    "DeviceBatcher",
    "ImageDataset",
    "default_root",
    "iterate_batches",
    "labeled_subset",
    "load_dataset",
    "read_idx",
    "to_unit_range",
]

#: Names accepted by :func:`load_dataset` besides the ``npz:`` and ``folder:`` forms.
DATASET_NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10", "art64")

#: Where the Debian package ``dataset-fashion-mnist`` installs its IDX files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}
_FORMS = ("npz:<file>", "folder:<dir>")
_IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
_HOW_TO_POINT = "pass --data-root/root=... or set GANZOO_DATA"
_HOW_TO_DOWNLOAD = "pass --data-root/root=..., set GANZOO_DATA, or use download=True (--download)"

_MNIST_CLASSES = tuple(str(i) for i in range(10))
_FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


@dataclasses.dataclass
class ImageDataset:
    """A whole image data set held in memory.

    Attributes:
        images: ``uint8`` tensor of shape ``(N, C, H, W)``, values 0..255.
        labels: ``int64`` tensor of shape ``(N,)``, or ``None`` for an unlabeled set.
        name: The name the set was loaded under, e.g. ``"mnist"`` or ``"npz:/x/y.npz"``.
        num_classes: Number of classes when labeled, else ``None``.
        classes: Optional class names, ``classes[i]`` naming label ``i``.

    Example:
        >>> ds = load_dataset("mnist", "test")  # doctest: +SKIP
        >>> ds.images.shape, ds.num_classes  # doctest: +SKIP
        (torch.Size([10000, 1, 28, 28]), 10)

    """

    images: torch.Tensor
    labels: torch.Tensor | None
    name: str
    num_classes: int | None
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                "ImageDataset.images must be a uint8 tensor of shape (N, C, H, W), got "
                f"{self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.labels is not None and (
            self.labels.dtype != torch.int64 or self.labels.shape != (len(self.images),)
        ):
            raise ValueError(
                f"ImageDataset.labels must be an int64 tensor of shape ({len(self.images)},)"
                f", got {self.labels.dtype} {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        return (
            f"ImageDataset(name={self.name!r}, n={len(self)}, "
            f"shape={tuple(self.images.shape[1:])}, num_classes={self.num_classes}, "
            f"device={self.images.device})"
        )

    @property
    def image_size(self) -> int:
        """Image height ``H`` in pixels (the images are square for every built-in set)."""
        return int(self.images.shape[2])

    @property
    def channels(self) -> int:
        """Number of channels ``C``: 1 for grayscale, 3 for RGB."""
        return int(self.images.shape[1])

    def to(self, device: torch.device | str) -> ImageDataset:
        """Return a copy whose tensors live on ``device``.

        Args:
            device: Target device, e.g. ``"cuda"``.

        Returns:
            A new :class:`ImageDataset`; ``self`` is left unchanged.

        """
        labels = None if self.labels is None else self.labels.to(device)
        return dataclasses.replace(self, images=self.images.to(device), labels=labels)

    def subset(self, indices: torch.Tensor | Sequence[int]) -> ImageDataset:
        """Return the examples at ``indices`` as a new data set.

        Args:
            indices: Integer indices (tensor or sequence), or a boolean mask of length ``N``.

        Returns:
            A new :class:`ImageDataset` with the same name, class count and class names.

        """
        idx = torch.as_tensor(indices, device=self.images.device)
        if idx.dtype != torch.bool:
            idx = idx.long()
        labels = None if self.labels is None else self.labels[idx]
        return dataclasses.replace(self, images=self.images[idx], labels=labels)


def default_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the data root directory.

    Args:
        root: An explicit root; wins when given.

    Returns:
        ``root`` if given, else the ``GANZOO_DATA`` environment variable if set and
        non-empty, else ``~/.cache/ganzoo/data``. ``~`` is expanded.

    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GANZOO_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "ganzoo" / "data"


# --------------------------------------------------------------------------------------
# Pixel range conversions


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """Convert ``uint8`` images (0..255) to ``float32`` in ``[-1, 1]`` on the same device.

    Args:
        images: ``uint8`` tensor of any shape.

    Returns:
        ``images.float() / 127.5 - 1``; 0 maps to exactly -1 and 255 to exactly 1.

    """
    return images.to(torch.float32).div_(127.5).sub_(1.0)


# --------------------------------------------------------------------------------------
# Low-level readers


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
    dims = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(buf) != expected:
        raise GanzooError(
            f"{path} is truncated or corrupt (IDX header says {dims}, expected {expected} "
            f"bytes, file has {len(buf)}); delete it and download the data set again"
        )
    arr = np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _resize(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """Resize uint8 ``(N, C, H, W)`` images to ``size x size`` (center crop if not square)."""
    if size is None:
        return images
    if not isinstance(size, int) or size < 1:
        raise GanzooError(f"image_size must be a positive integer, got {size!r}")
    h, w = images.shape[-2:]
    if h == size and w == size:
        return images
    if h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        images = images[..., top : top + side, left : left + side]
        if side == size:
            return images.contiguous()
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    chunk = max(1, (1 << 24) // max(1, images.shape[1] * max(size, h) * max(size, w)))
    for start in range(0, images.shape[0], chunk):
        x = images[start : start + chunk].to(torch.float32)
        y = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
        out[start : start + chunk] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def _labels_tensor(y: np.ndarray | Sequence[int]) -> torch.Tensor:
    return torch.from_numpy(np.asarray(y).astype(np.int64, copy=True).reshape(-1))


def _missing(what: str, looked: str, how: str) -> GanzooError:
    return GanzooError(f"{what} not found: looked for {looked}; {how}")


def _check_split(name: str, split: str, valid: tuple[str, ...]) -> None:
    if split not in valid:
        raise GanzooError(f"unknown split {split!r} for {name}; valid splits: {', '.join(valid)}")


def _torchvision_datasets() -> Any:
    """Import ``torchvision.datasets`` lazily (heavy, and only needed to download)."""
    try:
        import torchvision.datasets as tvd
    except ImportError as exc:
        raise GanzooError(
            f"download=True needs torchvision ({_first_line(exc)}); pip install torchvision"
        ) from exc
    return tvd


def _download(display: str, root: Path, fetch: Any) -> None:
    """Run a torchvision download, turning its failures into one-line GanzooErrors."""
    try:
        fetch()
    except GanzooError:
        raise
    except Exception as exc:  # network errors, checksum errors, permissions...
        raise GanzooError(
            f"could not download {display} to {root} ({_first_line(exc)}); check the network "
            f"connection, or put the files there yourself and {_HOW_TO_POINT}"
        ) from exc


# --------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST


def _find_idx(dirs: Sequence[Path], stem: str) -> Path | None:
    for d in dirs:
        for candidate in (d / stem, d / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _mnist_files(dirs: Sequence[Path], prefix: str) -> tuple[Path, Path] | str:
    """Return (images, labels) paths from the first directory holding both, else a stem."""
    img_stem, lbl_stem = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    for d in dirs:
        img, lbl = _find_idx([d], img_stem), _find_idx([d], lbl_stem)
        if img is not None and lbl is not None:
            return img, lbl
    if any(_find_idx([d], img_stem) for d in dirs):
        return lbl_stem
    return img_stem


def _read_mnist_pair(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    x = read_idx(images_path)
    y = read_idx(labels_path)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise GanzooError(
            f"{images_path} and {labels_path} do not match (shapes {x.shape} and {y.shape}); "
            "delete them and download the data set again"
        )
    return torch.from_numpy(x).unsqueeze(1), _labels_tensor(y)


def _load_mnist_like(
    kind: str, split: str, root: Path, download: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    folder = "MNIST" if kind == "mnist" else "FashionMNIST"
    display = "MNIST" if kind == "mnist" else "Fashion-MNIST"
    dirs = [root / folder / "raw"]
    if kind == "fashion-mnist" and DEBIAN_FASHION_MNIST_DIR.is_dir():
        dirs.append(DEBIAN_FASHION_MNIST_DIR)
    prefixes = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}[split]

    def locate() -> list[tuple[Path, Path]] | str:
        found = []
        for prefix in prefixes:
            pair = _mnist_files(dirs, prefix)
            if isinstance(pair, str):
                return pair
            found.append(pair)
        return found

    found = locate()
    if isinstance(found, str) and download:
        tvd = _torchvision_datasets()
        cls = tvd.MNIST if kind == "mnist" else tvd.FashionMNIST
        _download(display, root, lambda: cls(root=str(root), train=True, download=True))
        found = locate()
    if isinstance(found, str):
        where = " and ".join(str(d) for d in dirs)
        how = _HOW_TO_DOWNLOAD
        if kind == "fashion-mnist":
            how += ", or install the Debian package dataset-fashion-mnist"
        raise _missing(display, f"{found}[.gz] in {where}", how)
    parts = [_read_mnist_pair(img, lbl) for img, lbl in found]
    if len(parts) == 1:
        return parts[0]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


# --------------------------------------------------------------------------------------
# CIFAR-10


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open("rb") as f:
        # The data set's own distribution format is a Python pickle; only load files you trust.
        batch = pickle.load(f, encoding="bytes")
    data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(batch.get(b"labels", batch.get(b"fine_labels")), dtype=np.int64)
    return data, labels


def _load_cifar10(split: str, root: Path, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    batches_dir = root / "cifar-10-batches-py"
    npz_dir = root / "cifar10"
    splits = ["train", "test"] if split == "all" else [split]
    batch_names = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}

    def locate() -> list[tuple[str, list[Path]]] | None:
        out: list[tuple[str, list[Path]]] = []
        for s in splits:
            pickles = [batches_dir / n for n in batch_names[s]]
            if all(p.is_file() for p in pickles):
                out.append(("pickle", pickles))
            elif (npz_dir / f"{s}.npz").is_file():
                out.append(("npz", [npz_dir / f"{s}.npz"]))
            else:
                return None
        return out

    found = locate()
    if found is None and download:
        tvd = _torchvision_datasets()
        _download("CIFAR-10", root, lambda: tvd.CIFAR10(root=str(root), train=True, download=True))
        found = locate()
    if found is None:
        wanted = " and ".join("data_batch_1..5" if s == "train" else "test_batch" for s in splits)
        npzs = " and ".join(f"{s}.npz" for s in splits)
        raise _missing(
            "CIFAR-10",
            f"{wanted} in {batches_dir} or {npzs} in {npz_dir}",
            _HOW_TO_DOWNLOAD,
        )
    xs, ys = [], []
    for fmt, paths in found:
        if fmt == "pickle":
            for p in paths:
                x, y = _read_cifar_batch(p)
                xs.append(x)
                ys.append(y)
        else:
            x, y = _read_npz_arrays(paths[0], require_y=True)
            xs.append(_to_nchw(x, paths[0]))
            ys.append(np.asarray(y))
    x = torch.from_numpy(np.ascontiguousarray(np.concatenate(xs)))
    return x, _labels_tensor(np.concatenate(ys))


# --------------------------------------------------------------------------------------
# npz files


def _read_npz_arrays(path: Path, require_y: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
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
            f"could not read {path} as .npz ({_first_line(exc)}); "
            "save it with np.savez(path, x=images, y=labels)"
        ) from exc
    if require_y and y is None:
        raise GanzooError(f"{path} has no labels array 'y'; save it with np.savez(path, x=, y=)")
    return x, y


def _to_nchw(x: np.ndarray, path: Path) -> np.ndarray:
    """Bring an image array to uint8 ``(N, C, H, W)``, detecting channels-last layouts."""
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


def _load_npz(path: Path) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
    if not path.is_file():
        raise _missing(
            "npz file", str(path), "check the path after npz: (relative paths are from cwd)"
        )
    x, y = _read_npz_arrays(path)
    images = torch.from_numpy(np.ascontiguousarray(_to_nchw(x, path)))
    if y is None:
        return images, None, None
    if not np.issubdtype(np.asarray(y).dtype, np.integer):
        raise GanzooError(f"{path}: y must hold integer class labels, got {np.asarray(y).dtype}")
    labels = _labels_tensor(y)
    if len(labels) != len(images):
        raise GanzooError(
            f"{path}: x has {len(images)} images but y has {len(labels)} labels; "
            "save one label per image"
        )
    if len(labels) and int(labels.min()) < 0:
        raise GanzooError(f"{path}: y has negative labels; use class indices 0..K-1")
    num_classes = int(labels.max()) + 1 if len(labels) else 0
    return images, labels, num_classes


# --------------------------------------------------------------------------------------
# Image folders


def _load_folder(
    directory: Path, image_size: int
) -> tuple[torch.Tensor, torch.Tensor | None, tuple[str, ...] | None]:
    if not directory.is_dir():
        raise _missing("image folder", str(directory), "check the path after folder:")
    if not isinstance(image_size, int) or image_size < 1:
        raise GanzooError(f"image_size must be a positive integer, got {image_size!r}")
    files = sorted(
        (p for p in directory.rglob("*") if p.suffix.lower() in _IMAGE_EXTENSIONS and p.is_file()),
        key=lambda p: p.relative_to(directory).as_posix(),
    )
    if not files:
        raise _missing(
            "images",
            f"*.png/jpg/jpeg/bmp/webp under {directory}",
            "put image files there (optionally in one subfolder per class)",
        )
    from PIL import Image, ImageOps  # lazy: only needed for folders

    def mode_of(p: Path) -> str:
        try:
            with Image.open(p) as im:
                return im.mode
        except Exception as exc:
            raise GanzooError(
                f"could not read image {p} ({_first_line(exc)}); remove or fix it"
            ) from exc

    def load(p: Path, mode: str) -> np.ndarray:
        try:
            with Image.open(p) as im:
                im = ImageOps.exif_transpose(im).convert(mode)
        except Exception as exc:
            raise GanzooError(
                f"could not read image {p} ({_first_line(exc)}); remove or fix it"
            ) from exc
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
        modes = list(pool.map(mode_of, files))
        mode = "L" if all(m in _GRAY_MODES for m in modes) else "RGB"
        arrays = list(pool.map(lambda p: load(p, mode), files))
    images = torch.from_numpy(np.stack(arrays))

    rel_parts = [p.relative_to(directory).parts for p in files]
    if all(len(parts) == 2 for parts in rel_parts):
        classes = tuple(sorted({parts[0] for parts in rel_parts}))
        index = {c: i for i, c in enumerate(classes)}
        labels = torch.tensor([index[parts[0]] for parts in rel_parts], dtype=torch.int64)
        return images, labels, classes
    return images, None, None


# --------------------------------------------------------------------------------------
# Public loader


def load_dataset(
    name: str,
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    image_size: int | None = None,
) -> ImageDataset:
    """Load a whole image data set into memory as ``uint8`` tensors.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, ``"art64"``,
            ``"npz:<file>"`` or ``"folder:<dir>"`` (see the module docs for layouts).
        split: ``"train"`` or ``"test"``; ``"all"`` concatenates both for MNIST,
            Fashion-MNIST and CIFAR-10. ``art64``, ``npz:`` and ``folder:`` sets have a
            single split, read with ``"train"`` (or ``"all"``).
        root: Data root; defaults to :func:`default_root`.
        download: Download MNIST, Fashion-MNIST or CIFAR-10 through torchvision into
            ``root`` when the files are not already there.
        image_size: Output side length. For ``folder:`` sets every image is center-cropped
            to a square and resized with Lanczos (default 64). For the other sets, when
            given and different from the native size, images are resized with antialiased
            bicubic interpolation (non-square images are center-cropped first).

    Returns:
        The data set, on the CPU.

    Raises:
        GanzooError: Unknown name or split, missing or malformed files, or a failed
            download. The message is one line saying where it looked and how to fix it.

    """
    raw_name = name.strip()
    lowered = raw_name.lower()
    for prefix in ("npz:", "folder:"):
        if lowered.startswith(prefix):
            kind, arg = prefix[:-1], raw_name[len(prefix) :]
            break
    else:
        kind, arg = _ALIASES.get(lowered, lowered), ""
    if kind not in DATASET_NAMES and kind not in ("npz", "folder"):
        raise GanzooError(
            f"unknown dataset {name!r}{did_you_mean(lowered, DATASET_NAMES)} "
            f"(known: {', '.join(DATASET_NAMES + _FORMS)})"
        )
    if kind in ("npz", "folder") and not arg:
        example = "data.npz" if kind == "npz" else "images"
        raise GanzooError(f"{kind}: needs a path, e.g. {kind}:/path/to/{example}")

    data_root = default_root(root)
    classes: tuple[str, ...] | None = None
    if kind in ("mnist", "fashion-mnist"):
        _check_split(kind, split, ("train", "test", "all"))
        images, labels = _load_mnist_like(kind, split, data_root, download)
        num_classes: int | None = 10
        classes = _MNIST_CLASSES if kind == "mnist" else _FASHION_CLASSES
        ds_name = kind
    elif kind == "cifar10":
        _check_split(kind, split, ("train", "test", "all"))
        images, labels = _load_cifar10(split, data_root, download)
        num_classes, classes, ds_name = 10, _CIFAR10_CLASSES, kind
    elif kind == "art64":
        _check_split(kind, split, ("train", "all"))
        path = data_root / "abstract-art" / "images64.npz"
        if not path.is_file():
            raise _missing(
                "art64",
                str(path),
                "it cannot be downloaded automatically: save the images at that path with "
                "np.savez(path, x=uint8 array (N, 64, 64, 3)), or point to the folder that holds "
                f"abstract-art/ ({_HOW_TO_POINT})",
            )
        x, _ = _read_npz_arrays(path)
        images = torch.from_numpy(np.ascontiguousarray(_to_nchw(x, path)))
        labels, num_classes, ds_name = None, None, kind
    elif kind == "npz":
        _check_split(raw_name, split, ("train", "all"))
        path = Path(arg).expanduser()
        images, labels, num_classes = _load_npz(path)
        ds_name = f"npz:{path}"
    else:
        _check_split(raw_name, split, ("train", "all"))
        directory = Path(arg).expanduser()
        images, labels, classes = _load_folder(directory, 64 if image_size is None else image_size)
        num_classes = None if classes is None else len(classes)
        ds_name = f"folder:{directory}"

    if kind != "folder":
        images = _resize(images, image_size)
    return ImageDataset(
        images=images.contiguous(),
        labels=labels,
        name=ds_name,
        num_classes=num_classes,
        classes=classes,
    )


# --------------------------------------------------------------------------------------
# Semi-supervised label subsets


def labeled_subset(
    labels: torch.Tensor, n: int, seed: int = 0, num_classes: int | None = None
) -> torch.Tensor:
    """Pick a class-balanced set of ``n`` example indices to keep labeled.

    Every class gets ``n // k`` examples; the remaining ``n % k`` go one each to classes
    chosen at random, so with 25 labels over 10 classes every class gets 2 or 3. The
    choice depends only on ``(labels, n, seed)``: it uses its own generator and does not
    touch or read the global RNG.

    Args:
        labels: ``(N,)`` integer class labels (any device).
        n: Number of labeled examples to pick.
        seed: Seed for the choice.
        num_classes: Number of classes ``k``; by default the distinct values in ``labels``.

    Returns:
        Sorted ``int64`` indices into ``labels`` on the CPU, ``n`` of them, no repeats.

    Raises:
        GanzooError: If ``n`` is smaller than the number of classes, larger than
            ``len(labels)``, or a class has too few examples.

    """
    labels = torch.as_tensor(labels).detach().to("cpu").long().reshape(-1)
    total = len(labels)
    if total == 0:
        raise GanzooError("labeled_subset needs a labeled data set, got no labels")
    if num_classes is None:
        classes = torch.unique(labels)
    else:
        if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
            raise GanzooError(
                f"labels range {int(labels.min())}..{int(labels.max())} does not fit "
                f"num_classes={num_classes}; pass the right num_classes"
            )
        classes = torch.arange(num_classes)
    k = len(classes)
    if n > total:
        raise GanzooError(
            f"cannot pick {n} labeled examples from a data set of {total}; use n <= {total}"
        )
    if n < k:
        raise GanzooError(
            f"n={n} labeled examples cannot cover {k} classes; use n >= {k} (one per class)"
        )
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed))
    base, rem = divmod(n, k)
    counts = torch.full((k,), base, dtype=torch.int64)
    counts[torch.randperm(k, generator=gen)[:rem]] += 1
    picked = []
    for c, count in zip(classes.tolist(), counts.tolist(), strict=True):
        members = torch.nonzero(labels == c, as_tuple=False).reshape(-1)
        if len(members) < count:
            raise GanzooError(
                f"class {c} has only {len(members)} examples but a balanced subset of {n} "
                f"needs {count}; use a smaller n"
            )
        picked.append(members[torch.randperm(len(members), generator=gen)[:count]])
    return torch.sort(torch.cat(picked)).values


# --------------------------------------------------------------------------------------
# Batching


def _resolve_device(device: torch.device | str) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


class DeviceBatcher:
    """Random mini-batches drawn on the device from a device-resident data set.

    The images (``uint8``) and labels are copied to ``device`` once. Each batch is drawn
    with replacement by ``torch.randint`` on a generator that lives on the same device,
    gathered and scaled to ``[-1, 1]`` there: a training step does no host work and no
    host-device copy. :meth:`state_dict` captures the generator, so a resumed run draws
    exactly the batches the uninterrupted run would have.

    Args:
        dataset: The data set to draw from.
        batch_size: Images per batch.
        device: Where the data and the generator live.
        generator: A generator on ``device`` to use; by default a new one seeded with ``seed``.
        seed: Seed for the default generator.

    Example:
        >>> batcher = DeviceBatcher(load_dataset("mnist"), 64, "cuda")  # doctest: +SKIP
        >>> x, y = batcher.next()  # x: (64, 1, 28, 28) float32 in [-1, 1] on the GPU

    """

    def __init__(
        self,
        dataset: ImageDataset,
        batch_size: int,
        device: torch.device | str,
        generator: torch.Generator | None = None,
        seed: int = 0,
    ) -> None:
        if batch_size < 1:
            raise GanzooError(f"batch_size must be at least 1, got {batch_size}")
        if len(dataset) == 0:
            raise GanzooError(f"data set {dataset.name!r} is empty; nothing to draw batches from")
        self.device = _resolve_device(device)
        self.batch_size = int(batch_size)
        self.images = dataset.images.to(self.device)
        self.labels = None if dataset.labels is None else dataset.labels.to(self.device)
        self.num_examples = len(dataset)
        if generator is None:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(int(seed))
        elif generator.device.type != self.device.type:
            raise GanzooError(
                f"the generator is on {generator.device} but the data is on {self.device}; "
                f"create it with torch.Generator(device={str(self.device)!r})"
            )
        self.generator = generator
        self.steps = 0

    def __len__(self) -> int:
        return self.num_examples

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Draw one random batch.

        Returns:
            ``(images, labels)``: ``float32`` images ``(batch_size, C, H, W)`` in
            ``[-1, 1]`` and ``int64`` labels ``(batch_size,)`` (``None`` if unlabeled),
            both on the device.

        """
        idx = torch.randint(
            self.num_examples, (self.batch_size,), device=self.device, generator=self.generator
        )
        self.steps += 1
        x = to_unit_range(self.images[idx])
        y = None if self.labels is None else self.labels[idx]
        return x, y

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.next()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        while True:
            yield self.next()

    def state_dict(self) -> dict[str, Any]:
        """Return the state needed to resume drawing the same batches.

        Returns:
            A dict with the generator state (a CPU ``uint8`` tensor), the number of batches
            drawn so far, the batch size and the data set size.

        """
        return {
            "generator_state": self.generator.get_state(),
            "steps": self.steps,
            "batch_size": self.batch_size,
            "num_examples": self.num_examples,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`; the following batches repeat exactly.

        Args:
            state: A dict returned by :meth:`state_dict` (possibly after ``torch.save`` /
                ``torch.load`` with any ``map_location``).

        Raises:
            GanzooError: If the state was saved for a data set of a different size.

        """
        saved_n = state.get("num_examples", self.num_examples)
        if saved_n != self.num_examples:
            raise GanzooError(
                f"batcher state was saved for a data set of {saved_n} examples but this one has "
                f"{self.num_examples}; resume with the same data set and split"
            )
        self.generator.set_state(state["generator_state"].to("cpu", torch.uint8))
        self.steps = int(state.get("steps", 0))


def iterate_batches(
    dataset: ImageDataset, batch_size: int, device: torch.device | str = "cpu"
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Iterate once over a data set in order, for evaluation.

    Args:
        dataset: The data set (on any device).
        batch_size: Images per batch; the last batch holds the remainder.
        device: Where to put the batches.

    Yields:
        ``(images, labels)``: ``float32`` images in ``[-1, 1]`` and ``int64`` labels (or
        ``None``), on ``device``, covering every example exactly once in index order.

    """
    if batch_size < 1:
        raise GanzooError(f"batch_size must be at least 1, got {batch_size}")
    for start in range(0, len(dataset), batch_size):
        x = dataset.images[start : start + batch_size].to(device)
        y = None
        if dataset.labels is not None:
            y = dataset.labels[start : start + batch_size].to(device)
        yield to_unit_range(x), y
