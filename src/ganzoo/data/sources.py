"""Where data sets come from: a table from name to loader, and :func:`load_dataset`.

:data:`SOURCES` maps each name to a :class:`Source`: the loader function, its splits,
its aliases and, for the ``npz:<file>``, ``folder:<dir>`` and ``image:<file>`` forms,
what kind of path follows the colon. Adding a data set is one loader function and one
entry in the table.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.data.dataset import (
    ImageDataset,
    check_channels,
    check_image_size,
    convert_channels,
    resize_square,
)
from ganzoo.data.pictures import IMAGE_EXTENSIONS, read_image_files, read_image_folder
from ganzoo.data.readers import (
    labels_tensor,
    missing,
    read_cifar_batch,
    read_idx,
    read_npz_arrays,
    refuse_special_file,
    require_path,
    to_nchw,
)
from ganzoo.errors import GanzooError, did_you_mean, first_line

__all__ = [
    "DATASET_NAMES",
    "DEBIAN_FASHION_MNIST_DIR",
    "SOURCES",
    "Request",
    "Source",
    "default_root",
    "load_dataset",
]

#: Where the Debian package ``dataset-fashion-mnist`` installs its IDX files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_HOW_TO_POINT = "pass --data-root/root=... or set GANZOO_DATA"
_HOW_TO_DOWNLOAD = "pass --data-root/root=..., set GANZOO_DATA, or use download=True (--download)"
_TWO_SPLITS = ("train", "test", "all")
_ONE_SPLIT = ("train", "all")

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


@dataclasses.dataclass(frozen=True)
class Request:
    """What :func:`load_dataset` hands a source's loader.

    Attributes:
        split: A split the source lists (already checked).
        root: The data root (see :func:`default_root`).
        download: Whether the loader may download missing files.
        image_size: The side length asked for, or ``None``. Loaders may ignore it:
            :func:`load_dataset` resizes whatever they return.
        channels: 1, 3 or ``None``; as for ``image_size``.
        path: For a form such as ``npz:<file>``, the path after the colon, else ``None``.

    """

    split: str
    root: Path
    download: bool
    image_size: int | None = None
    channels: int | None = None
    path: Path | None = None


#: A loader reads one source: it gets a :class:`Request` and returns the whole set.
Loader = Callable[[Request], ImageDataset]


@dataclasses.dataclass(frozen=True)
class Source:
    """One entry of :data:`SOURCES`.

    Attributes:
        load: The loader.
        splits: The splits it accepts.
        aliases: Other spellings of its name.
        path: ``"file"`` or ``"dir"`` for a form written ``name:<path>``; ``None`` for a
            named data set read from the data root.

    """

    load: Loader
    splits: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    path: str | None = None


# --------------------------------------------------------------------------------------
# Downloads (torchvision, only when asked)


def _torchvision_datasets() -> Any:
    """Import ``torchvision.datasets`` lazily (heavy, and only needed to download)."""
    try:
        import torchvision.datasets as tvd
    except ImportError as exc:
        raise GanzooError(
            f"download=True needs torchvision ({first_line(exc)}); pip install torchvision"
        ) from exc
    return tvd


def _download(display: str, root: Path, fetch: Callable[[], object]) -> None:
    """Run a torchvision download, turning its failures into one-line GanzooErrors."""
    try:
        fetch()
    except GanzooError:
        raise
    except Exception as exc:  # network errors, checksum errors, permissions...
        raise GanzooError(
            f"could not download {display} to {root} ({first_line(exc)}); check the network "
            f"connection, or put the files there yourself and {_HOW_TO_POINT}"
        ) from exc


# --------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST


def _find_idx(d: Path, stem: str) -> Path | None:
    for candidate in (d / stem, d / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _mnist_files(dirs: Sequence[Path], prefix: str) -> tuple[Path, Path] | str:
    """Return (images, labels) paths from the first directory holding both, else a stem."""
    img_stem, lbl_stem = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    for d in dirs:
        img, lbl = _find_idx(d, img_stem), _find_idx(d, lbl_stem)
        if img is not None and lbl is not None:
            return img, lbl
    if any(_find_idx(d, img_stem) for d in dirs):
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
    return torch.from_numpy(x).unsqueeze(1), labels_tensor(y)


def _load_idx_set(
    req: Request,
    name: str,
    display: str,
    folder: str,
    classes: tuple[str, ...],
    torchvision_class: str,
    extra_dirs: Sequence[Path] = (),
    extra_how: str = "",
) -> ImageDataset:
    """Read an MNIST-like set from IDX files in ``<root>/<folder>/raw`` (or ``extra_dirs``)."""
    dirs = [req.root / folder / "raw", *(d for d in extra_dirs if d.is_dir())]
    prefixes = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}[req.split]

    def locate() -> list[tuple[Path, Path]] | str:
        found = []
        for prefix in prefixes:
            pair = _mnist_files(dirs, prefix)
            if isinstance(pair, str):
                return pair
            found.append(pair)
        return found

    found = locate()
    if isinstance(found, str) and req.download:
        cls = getattr(_torchvision_datasets(), torchvision_class)
        _download(display, req.root, lambda: cls(root=str(req.root), train=True, download=True))
        found = locate()
    if isinstance(found, str):
        where = " and ".join(str(d) for d in dirs)
        raise missing(display, f"{found}[.gz] in {where}", _HOW_TO_DOWNLOAD + extra_how)
    parts = [_read_mnist_pair(img, lbl) for img, lbl in found]
    images = torch.cat([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = torch.cat([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    return ImageDataset(images, labels, name, len(classes), classes)


def _load_mnist(req: Request) -> ImageDataset:
    return _load_idx_set(req, "mnist", "MNIST", "MNIST", _MNIST_CLASSES, "MNIST")


def _load_fashion_mnist(req: Request) -> ImageDataset:
    return _load_idx_set(
        req,
        "fashion-mnist",
        "Fashion-MNIST",
        "FashionMNIST",
        _FASHION_CLASSES,
        "FashionMNIST",
        extra_dirs=[DEBIAN_FASHION_MNIST_DIR],
        extra_how=", or install the Debian package dataset-fashion-mnist",
    )


# --------------------------------------------------------------------------------------
# CIFAR-10


def _load_cifar10(req: Request) -> ImageDataset:
    root = req.root
    batches_dir = root / "cifar-10-batches-py"
    npz_dir = root / "cifar10"
    splits = ["train", "test"] if req.split == "all" else [req.split]
    batch_names = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}

    def locate() -> list[tuple[str, str, list[Path]]] | None:
        out: list[tuple[str, str, list[Path]]] = []
        for s in splits:
            pickles = [batches_dir / n for n in batch_names[s]]
            if all(p.is_file() for p in pickles):
                out.append(("pickle", s, pickles))
            elif (npz_dir / f"{s}.npz").is_file():
                out.append(("npz", s, [npz_dir / f"{s}.npz"]))
            else:
                return None
        return out

    found = locate()
    if found is None and req.download:
        tvd = _torchvision_datasets()
        _download("CIFAR-10", root, lambda: tvd.CIFAR10(root=str(root), train=True, download=True))
        found = locate()
    if found is None:
        wanted = " and ".join("data_batch_1..5" if s == "train" else "test_batch" for s in splits)
        npzs = " and ".join(f"{s}.npz" for s in splits)
        raise missing(
            "CIFAR-10", f"{wanted} in {batches_dir} or {npzs} in {npz_dir}", _HOW_TO_DOWNLOAD
        )
    xs, ys = [], []
    for fmt, split, paths in found:
        if fmt == "pickle":
            fix = (
                "delete it and download CIFAR-10 again (download=True), or convert the data to "
                f"{npz_dir / split}.npz with np.savez(path, x=uint8 (N, 32, 32, 3), y=labels)"
            )
            for p in paths:
                x, y = read_cifar_batch(p, fix)
                xs.append(x)
                ys.append(y)
        else:
            x, y = read_npz_arrays(paths[0], require_y=True)
            xs.append(to_nchw(x, paths[0]))
            ys.append(np.asarray(y))
    images = torch.from_numpy(np.ascontiguousarray(np.concatenate(xs)))
    labels = labels_tensor(np.concatenate(ys))
    return ImageDataset(images, labels, "cifar10", 10, _CIFAR10_CLASSES)


# --------------------------------------------------------------------------------------
# art64, npz:, folder:


def _load_art64(req: Request) -> ImageDataset:
    path = req.root / "abstract-art" / "images64.npz"
    if not path.is_file():
        raise missing(
            "art64",
            str(path),
            "it cannot be downloaded automatically: it is the 'Abstract Art Gallery' data set "
            "on Kaggle (about 2,800 paintings); download it from Kaggle and train on the "
            "pictures with --dataset folder:<dir> (load_dataset('folder:<dir>') in Python), "
            "or save them at that path with np.savez(path, x=uint8 array (N, 64, 64, 3)), or "
            f"point to the folder that holds abstract-art/ ({_HOW_TO_POINT})",
        )
    x, _ = read_npz_arrays(path)
    images = torch.from_numpy(np.ascontiguousarray(to_nchw(x, path)))
    return ImageDataset(images, None, "art64", None)


def _load_npz(req: Request) -> ImageDataset:
    path = req.path
    assert path is not None
    name = f"npz:{path}"
    require_path(path, "npz file", "check the path after npz: (relative paths are from cwd)")
    x, y = read_npz_arrays(path)
    images = torch.from_numpy(np.ascontiguousarray(to_nchw(x, path)))
    if y is None:
        return ImageDataset(images, None, name, None)
    if not np.issubdtype(np.asarray(y).dtype, np.integer):
        raise GanzooError(f"{path}: y must hold integer class labels, got {np.asarray(y).dtype}")
    labels = labels_tensor(y)
    if len(labels) != len(images):
        raise GanzooError(
            f"{path}: x has {len(images)} images but y has {len(labels)} labels; "
            "save one label per image"
        )
    if len(labels) and int(labels.min()) < 0:
        raise GanzooError(f"{path}: y has negative labels; use class indices 0..K-1")
    num_classes = int(labels.max()) + 1 if len(labels) else 0
    return ImageDataset(images, labels, name, num_classes)


def _load_folder(req: Request) -> ImageDataset:
    directory = req.path
    assert directory is not None
    size = 64 if req.image_size is None else req.image_size
    images, labels, classes = read_image_folder(directory, size, req.channels)
    num_classes = None if classes is None else len(classes)
    return ImageDataset(images, labels, f"folder:{directory}", num_classes, classes)


def _load_image(req: Request) -> ImageDataset:
    path = req.path
    assert path is not None
    require_path(path, "image file", "check the path after image:")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise GanzooError(
            f"{path.name} is not an image file ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
            "use npz:<file> for arrays or folder:<dir> for a folder of images"
        )
    size = 64 if req.image_size is None else req.image_size
    images = read_image_files([path], size, req.channels)
    return ImageDataset(images, None, f"image:{path}", None)


# --------------------------------------------------------------------------------------
# The table

#: Every source :func:`load_dataset` knows, by canonical name.
SOURCES: dict[str, Source] = {
    "mnist": Source(_load_mnist, _TWO_SPLITS),
    "fashion-mnist": Source(
        _load_fashion_mnist, _TWO_SPLITS, aliases=("fashion_mnist", "fashionmnist")
    ),
    "cifar10": Source(_load_cifar10, _TWO_SPLITS, aliases=("cifar-10", "cifar_10")),
    "art64": Source(_load_art64, _ONE_SPLIT),
    "npz": Source(_load_npz, _ONE_SPLIT, path="file"),
    "folder": Source(_load_folder, _ONE_SPLIT, path="dir"),
    "image": Source(_load_image, _ONE_SPLIT, path="file"),
}

#: Names accepted by :func:`load_dataset` besides the ``npz:`` and ``folder:`` forms.
DATASET_NAMES: tuple[str, ...] = tuple(n for n, s in SOURCES.items() if s.path is None)


def _spellings() -> dict[str, str]:
    """Every accepted spelling of a named (not ``form:<path>``) source, to its name."""
    return {
        spelling: name
        for name, source in SOURCES.items()
        if source.path is None
        for spelling in (name, *source.aliases)
    }


def _needs_path(form: str) -> GanzooError:
    example = {"npz": "data.npz", "image": "picture.png"}.get(form, "images")
    return GanzooError(f"{form}: needs a path, e.g. {form}:/path/to/{example}")


def _lookup(name: str) -> tuple[str, Source, Path | None]:
    """Resolve ``name`` (any case, an alias, or ``form:<path>``) to its table entry."""
    raw = name.strip()
    prefix, colon, arg = raw.partition(":")
    form = prefix.lower()
    if colon and form in SOURCES and SOURCES[form].path is not None:
        if not arg:
            raise _needs_path(form)
        return f"{form}:", SOURCES[form], Path(arg).expanduser()
    lowered = raw.lower()
    spellings = _spellings()
    if lowered in spellings:
        canonical = spellings[lowered]
        return canonical, SOURCES[canonical], None
    if lowered in SOURCES:  # a form named without its path, e.g. "npz"
        raise _needs_path(lowered)
    refuse_special_file(Path(raw).expanduser(), "a data set")
    known = [n if s.path is None else f"{n}:<{s.path}>" for n, s in SOURCES.items()]
    raise GanzooError(
        f"unknown dataset {name!r}{did_you_mean(lowered, spellings)} (known: {', '.join(known)})"
    )


def load_dataset(
    name: str,
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    image_size: int | None = None,
    channels: int | None = None,
) -> ImageDataset:
    """Load a whole image data set into memory as ``uint8`` tensors.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, ``"art64"``,
            ``"npz:<file>"``, ``"folder:<dir>"`` or ``"image:<file>"`` (one picture); see
            the package docs for layouts; any key or alias of :data:`SOURCES`.
        split: ``"train"`` or ``"test"``; ``"all"`` concatenates both for MNIST,
            Fashion-MNIST and CIFAR-10. ``art64``, ``npz:``, ``folder:`` and ``image:``
            sets have a single split, read with ``"train"`` (or ``"all"``).
        root: Data root; defaults to :func:`default_root`.
        download: Download MNIST, Fashion-MNIST or CIFAR-10 through torchvision into
            ``root`` when the files are not already there.
        image_size: Output side length. For ``folder:`` sets every image is center-cropped
            to a square and resized with Lanczos (default 64). For the other sets, when
            given and different from the native size, images are resized with antialiased
            bicubic interpolation (non-square images are center-cropped first).
        channels: 1 or 3 to convert every image to grayscale or RGB (e.g. a folder of
            photos for a 1-channel model); ``None`` keeps the set's own channels (for a
            folder: 1 when every image is grayscale, else 3).

    Returns:
        The data set, on the CPU.

    Raises:
        GanzooError: Unknown name or split, bad ``image_size`` or ``channels``, missing or
            malformed files, or a failed download. The message is one line saying where it
            looked and how to fix it.

    """
    key, source, path = _lookup(name)
    if split not in source.splits:
        shown = f"{key}{path}" if path is not None else key
        raise GanzooError(
            f"unknown split {split!r} for {shown}; valid splits: {', '.join(source.splits)}"
        )
    image_size = check_image_size(image_size)
    channels = check_channels(channels)
    request = Request(split, default_root(root), download, image_size, channels, path)
    ds = source.load(request)
    images = ds.images
    if channels == 1:  # fewer pixels to resize
        images = resize_square(convert_channels(images, channels), image_size)
    else:
        images = convert_channels(resize_square(images, image_size), channels)
    return dataclasses.replace(ds, images=images.contiguous())
