"""The real set's features for FID and KID: choosing the real images, and the disk cache.

The real images are embedded once per data set, feature network and count; the
features are kept in ``<cache_dir>/<dataset>-<feature>-<n>-<hash>.npz``
(:func:`default_cache_dir`), the hash being of the images themselves, so a changed
data set never reuses a stale file. The file is written atomically
(:func:`ganzoo.io.atomic.atomic_file`) with a digest of its own features
(:func:`content_digest`), and read with ``allow_pickle=False``; a file that is
damaged, malformed or changed since is recomputed, with a one-line
:class:`~ganzoo.errors.GanzooWarning`.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ganzoo.errors import GanzooError, GanzooWarning
from ganzoo.io.atomic import atomic_file
from ganzoo.metrics.features import embed, get_feature, load_feature

if TYPE_CHECKING:
    from ganzoo.data import ImageDataset

#: Format 2 adds ``content``, the digest of the features themselves.
_CACHE_FORMAT = 2


def _chunks(images: torch.Tensor, size: int) -> Iterable[torch.Tensor]:
    for start in range(0, len(images), size):
        yield images[start : start + size]


def default_cache_dir() -> Path:
    """``$GANZOO_CACHE/fid`` if that variable is set, else ``~/.cache/ganzoo/fid``."""
    root = os.environ.get("GANZOO_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "ganzoo") / "fid"


def images_digest(images: torch.Tensor) -> str:
    """SHA-256 of a uint8 image tensor's shape and bytes (a changed set gets a new cache)."""
    digest = hashlib.sha256(f"{tuple(images.shape)}|{images.dtype}".encode())
    digest.update(images.contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def select_real(data: ImageDataset, n: int | None = None, seed: int = 0) -> torch.Tensor:
    """The real images to compare with: all of ``data``, or ``n`` of them chosen with ``seed``.

    Raises:
        GanzooError: if ``n`` is below 2 or above the set's size.

    """
    total = len(data)
    if n is None or n == total:
        return data.images
    if not 2 <= n <= total:
        raise GanzooError(f"the real set '{data.name}' has {total} images; choose 2..{total}")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    return data.images[order[:n].sort().values]


def _cache_path(folder: Path, dataset: str, feature: str, n: int, digest: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset).strip("._")[-60:] or "data"
    return folder / f"{safe}-{feature}-{n}-{digest[:16]}.npz"


def content_digest(features: np.ndarray, digest: str, feature: str) -> str:
    """SHA-256 of cached features with the images' digest and the network's name.

    Stored in the cache file and compared when it is read, so a file whose features
    were changed (or damaged) after it was written is recomputed.
    """
    content = hashlib.sha256(f"{digest}|{feature}|{features.shape}|{features.dtype}|".encode())
    content.update(np.ascontiguousarray(features).tobytes())
    return content.hexdigest()


def _scalar(saved: Any, key: str, kind: str) -> Any:
    """The 0-d member ``key`` of dtype kind ``kind`` ("i" or "U"), else ``ValueError``."""
    value = saved[key]
    if value.shape != () or value.dtype.kind != kind:
        raise ValueError(f"'{key}' is not a single {'integer' if kind == 'i' else 'string'}")
    return value.item()


def _read_cache(
    path: Path, digest: str, feature: str, shape: tuple[int, int]
) -> tuple[torch.Tensor | None, str | None]:
    """The cached features, or ``None`` and why the file cannot serve (no reason: no file).

    Every member is checked: its size before it is read, its type, the images' digest
    and the network's name, the features' shape, dtype, finiteness and digest
    (:func:`content_digest`).
    """
    if not path.exists() and not path.is_symlink():
        return None, None
    expected = {"features": 4 * shape[0] * shape[1] + 4096}
    try:
        with np.load(path, allow_pickle=False) as saved:
            for member in saved.zip.infolist():
                if member.file_size > expected.get(member.filename.removesuffix(".npy"), 4096):
                    return None, f"its {member.filename} is larger than such a cache holds"
            if (version := _scalar(saved, "format", "i")) != _CACHE_FORMAT:
                return None, f"its format is {version}, not {_CACHE_FORMAT}"
            if _scalar(saved, "sha256", "U") != digest or _scalar(saved, "feature", "U") != feature:
                return None, "it is for other images or another feature network"
            features, content = saved["features"], _scalar(saved, "content", "U")
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with the file, it is recomputed
        return None, f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:80]}"
    if features.shape != shape or features.dtype != np.float32:
        return None, f"its features are {features.dtype} {features.shape}, not float32 {shape}"
    if not np.isfinite(features).all():
        return None, "its features hold NaN or infinite values"
    if content != content_digest(features, digest, feature):
        return None, "its features changed after it was written: they do not match their digest"
    return torch.from_numpy(features), None


def _write_cache(
    path: Path, features: torch.Tensor, digest: str, feature: str, dataset: str
) -> None:
    array = features.numpy()
    with atomic_file(path, overwrite=True, option="--cache-dir") as handle:
        np.savez(
            handle,
            features=array,
            sha256=np.str_(digest),
            feature=np.str_(feature),
            dataset=np.str_(dataset),
            content=np.str_(content_digest(array, digest, feature)),
            format=np.int64(_CACHE_FORMAT),
        )


def _cache_file(folder: Path, dataset: str, feature: str, n: int, digest: str) -> Path:
    """The cache file's path; one line naming the option when it cannot be a file."""
    path = _cache_path(folder, dataset, feature, n, digest)
    fix = "choose another --cache-dir, or pass --no-cache"
    if folder.exists() and not folder.is_dir():
        raise GanzooError(f"the feature cache folder {folder} is not a folder; {fix}")
    if path.is_dir():
        raise GanzooError(f"the feature cache {path} is a folder, not a file; remove it, or {fix}")
    return path


def real_features(
    data: ImageDataset,
    feature: str = "inception-tf",
    *,
    n: int | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    device: str | torch.device | None = None,
    network: nn.Module | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """The features of the real images, from the cache when it holds them.

    The cache file is ``<cache_dir>/<dataset>-<feature>-<n>-<hash>.npz``; the hash
    is of the images themselves, so a changed data set never reuses a stale file.
    It is written atomically and read with ``allow_pickle=False``; a damaged,
    malformed or changed file (its features no longer match their digest) is
    recomputed and replaced, with a one-line :class:`~ganzoo.errors.GanzooWarning`.

    Args:
        data: the real set (uint8 images).
        feature: a name from :func:`~ganzoo.metrics.features.list_features`.
        n: how many real images (default all), chosen with ``seed``.
        seed: the seed of that choice.
        cache_dir: where the cache lives (default :func:`default_cache_dir`).
        use_cache: read and write the cache.
        device: where the feature network runs (default CPU).
        network: an already built feature network (default :func:`load_feature`).
        log: called with a line before a slow step.

    Returns:
        ``(features, info)``: float32 ``(n, d)`` on the CPU, and ``{"dataset", "n",
        "of", "sha256", "cache"}`` where ``cache`` is the file's path or ``None``.

    Raises:
        GanzooError: if the cache file's path is a folder, or the cache folder's a file,
            or the cache cannot be written, naming ``--cache-dir`` and ``--no-cache``.

    """
    spec = get_feature(feature)
    images = select_real(data, n, seed)
    digest = images_digest(images)
    info: dict[str, Any] = {
        "dataset": data.name,
        "n": len(images),
        "of": len(data),
        "sha256": digest[:16],
        "cache": None,
    }
    path = None
    if use_cache:
        folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        path = _cache_file(folder, data.name, feature, len(images), digest)
        info["cache"] = str(path)
        cached, damage = _read_cache(path, digest, feature, (len(images), spec.dims))
        if cached is not None:
            return cached, info
        if damage is not None:
            warnings.warn(
                f"the feature cache {path} cannot be used ({damage}); recomputing it",
                GanzooWarning,
                2,
            )
    if log is not None:
        log(f"embedding {len(images)} real images of {data.name} with {feature}")
    if network is None:
        network = load_feature(feature, device)
    features = embed(_chunks(images, spec.batch_size), network, spec.dims, device or "cpu")
    if path is not None:
        _write_cache(path, features, digest, feature, data.name)
    return features, info
