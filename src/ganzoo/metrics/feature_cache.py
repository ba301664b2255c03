"""The real set's features for FID and KID: choosing the real images, and the disk cache.

The real images are embedded once per data set, feature network and count; the
features are kept in ``<cache_dir>/<dataset>-<feature>-<n>-<hash>.npz``
(:func:`default_cache_dir`), the hash being of the images themselves, so a changed
data set never reuses a stale file. The file is written atomically
(:func:`ganzoo.io.atomic.atomic_file`) and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ganzoo.errors import GanzooError
from ganzoo.io.atomic import atomic_file
from ganzoo.metrics.features import embed, get_feature, load_feature

if TYPE_CHECKING:
    from ganzoo.data import ImageDataset

_CACHE_FORMAT = 1


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


def _read_cache(
    path: Path, digest: str, feature: str, shape: tuple[int, int]
) -> torch.Tensor | None:
    """The cached features, or ``None`` when the file is missing, damaged or for other images."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            if (
                int(saved["format"]) != _CACHE_FORMAT
                or str(saved["sha256"]) != digest
                or str(saved["feature"]) != feature
            ):
                return None
            features = saved["features"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if features.shape != shape or features.dtype != np.float32 or not np.isfinite(features).all():
        return None
    return torch.from_numpy(features)


def _write_cache(
    path: Path, features: torch.Tensor, digest: str, feature: str, dataset: str
) -> None:
    with atomic_file(path, overwrite=True) as handle:
        np.savez(
            handle,
            features=features.numpy(),
            sha256=np.str_(digest),
            feature=np.str_(feature),
            dataset=np.str_(dataset),
            format=np.int64(_CACHE_FORMAT),
        )


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
    It is written atomically and read with ``allow_pickle=False``; a damaged or
    mismatched file is recomputed and replaced.

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
        path = _cache_path(folder, data.name, feature, len(images), digest)
        info["cache"] = str(path)
        cached = _read_cache(path, digest, feature, (len(images), spec.dims))
        if cached is not None:
            return cached, info
    if log is not None:
        log(f"embedding {len(images)} real images of {data.name} with {feature}")
    if network is None:
        network = load_feature(feature, device)
    features = embed(_chunks(images, spec.batch_size), network, spec.dims, device or "cpu")
    if path is not None:
        _write_cache(path, features, digest, feature, data.name)
    return features, info
