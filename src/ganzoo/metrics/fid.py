"""Generative metrics: FID and KID of a generator against a real image set.

The distances are computed by torchmetrics (``FrechetInceptionDistance`` and
``KernelInceptionDistance``, in float64); the features come from a network of
the table in :mod:`ganzoo.metrics.features` (``inception-tf`` by default). ganzoo
embeds the images itself, so the real set's features can be cached on disk and
reused (:mod:`ganzoo.metrics.feature_cache`): torchmetrics is handed the features
through a pass-through module.

Protocol, stated next to every number (:func:`generative_metrics` returns it):
the real set (name, split, how many images, a hash of them), the number of
generated images and their seed, the feature network. Generated images are
quantised to uint8 exactly like a saved PNG before they are embedded, as the
real images are uint8 already. FID is biased upwards for small sets, so two
numbers compare only at the same sample counts; :func:`fid_floor` gives the
data set's own floor (one random half against the other).

FID (Heusel et al. 2017, https://arxiv.org/abs/1706.08500): the Fréchet
distance ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))`` between
Gaussians fitted to the two sets of features. KID (Bińkowski et al. 2018,
https://arxiv.org/abs/1801.01401): the unbiased squared MMD with the kernel
``k(x, y) = (x . y / d + 1)^3``, averaged over random subsets.

The torchmetrics package is an optional extra: ``pip install 'torch-ganzoo[metrics]'``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ganzoo.errors import GanzooError, GanzooWarning, did_you_mean
from ganzoo.metrics.feature_cache import real_features
from ganzoo.metrics.features import embed, get_feature, load_feature

if TYPE_CHECKING:
    from ganzoo.data import ImageDataset
    from ganzoo.models.base import ZooModel

#: The metrics :func:`generative_metrics` knows.
METRICS: tuple[str, ...] = ("fid", "kid")
#: The pip command that installs what FID and KID need.
METRICS_INSTALL = "pip install 'torch-ganzoo[metrics]'"
#: Images drawn per call to ``model.sample``; batch ``i`` uses seed ``seed + i``.
SAMPLE_BATCH = 500


def _torchmetrics() -> tuple[type, type]:
    """The torchmetrics FID and KID classes, or one line naming the install command."""
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance
    except ImportError:
        raise GanzooError(f"FID and KID need torchmetrics: {METRICS_INSTALL}") from None
    return FrechetInceptionDistance, KernelInceptionDistance


def parse_metrics(names: str | Iterable[str], known: Sequence[str] = METRICS) -> list[str]:
    """Metric names from a comma list or several of them, lower-cased, without repeats.

    Args:
        names: e.g. ``"fid,kid"`` or ``["fid", "kid"]``.
        known: the names allowed (default: FID and KID).

    Raises:
        GanzooError: for an unknown or empty name, with a did-you-mean.

    """
    parts = [names] if isinstance(names, str) else list(names)
    chosen: list[str] = []
    for part in parts:
        for name in str(part).split(","):
            name = name.strip().lower()
            if name not in known:
                raise GanzooError(
                    f"unknown metric '{name}'{did_you_mean(name, known)} "
                    f"(known: {', '.join(known)})"
                )
            if name not in chosen:
                chosen.append(name)
    if not chosen:
        raise GanzooError(f"no metric given; choose from {', '.join(known)}")
    return chosen


class _GivenFeatures(nn.Module):
    """A torchmetrics "feature network" that returns its input: features computed by ganzoo.

    It returns float64, so torchmetrics' statistics and result stay in float64.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.to(torch.float64)


def _check_pair(real: torch.Tensor, fake: torch.Tensor, least: int) -> None:
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise GanzooError(
            f"features must be two (N, d) matrices of the same d, got {tuple(real.shape)} "
            f"and {tuple(fake.shape)}"
        )
    if min(len(real), len(fake)) < least:
        raise GanzooError(
            f"need at least {least} images in each set, got {len(real)} real and "
            f"{len(fake)} generated; raise -n"
        )
    for features, which in ((real, "real"), (fake, "generated")):
        if not bool(torch.isfinite(features).all()):
            raise GanzooError(
                f"the {which} images' features hold NaN or infinite values, so FID and KID "
                "would be meaningless; check the model's samples and the feature network"
            )


def _warn_small(message: str) -> None:
    warnings.warn(message, GanzooWarning, stacklevel=3)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two feature matrices ``(N, d)``, by torchmetrics, in float64.

    A set of ``d`` rows or fewer has a singular covariance (its rank is at most
    ``N - 1``), so FID is then mostly bias and noise and compares with nothing: a
    :class:`~ganzoo.errors.GanzooWarning` says so.

    Raises:
        GanzooError: if a set has fewer than 2 rows or a NaN or infinite value, or
            torchmetrics is missing.

    """
    fid_class, _ = _torchmetrics()
    _check_pair(real, fake, 2)
    dims = real.shape[1]
    if min(len(real), len(fake)) <= dims:
        _warn_small(
            f"FID of {len(real)} real and {len(fake)} generated images in {dims}-d features: "
            f"a set of {dims} images or fewer has a singular covariance, so this FID is "
            f"mostly bias and noise and compares with nothing; use more than {dims} of "
            "each (raise -n)"
        )
    metric = fid_class(feature=_GivenFeatures(real.shape[1]))
    metric.update(real.cpu(), real=True)
    metric.update(fake.cpu(), real=False)
    return float(metric.compute())


def kernel_distance(
    real: torch.Tensor,
    fake: torch.Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float, int]:
    """KID between two feature matrices ``(N, d)``, by torchmetrics, in float64.

    Args:
        real: features of the real images.
        fake: features of the generated images.
        subsets: how many random subsets to average over.
        subset_size: images per subset; capped at the smaller set's size.
        seed: seeds the choice of subsets (the global RNG is left as it was).

    Returns:
        ``(mean, std, subset_size)``: the mean and standard deviation over subsets,
        and the subset size used.

    A :class:`~ganzoo.errors.GanzooWarning` says when a set is smaller than
    ``subset_size``: KID is unbiased, but from small subsets it varies too much to
    compare (and can fall below 0).

    Raises:
        GanzooError: if a set has fewer than 2 rows or a NaN or infinite value, or
            torchmetrics is missing.

    """
    _, kid_class = _torchmetrics()
    _check_pair(real, fake, 2)
    size = min(subset_size, len(real), len(fake))
    if size < subset_size:
        _warn_small(
            f"KID from subsets of {size} images instead of {subset_size}: a set has only "
            f"{min(len(real), len(fake))}, and with small subsets KID varies too much "
            f"to compare (even below 0); use at least {subset_size} of each (raise -n)"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "will save all extracted features"
        metric = kid_class(feature=_GivenFeatures(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real.cpu(), real=True)
    metric.update(fake.cpu(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std), size


# ------------------------------------------------------------------------------- generator
def generated_images(model: ZooModel, n: int, seed: int = 0) -> Iterable[torch.Tensor]:
    """``n`` images drawn from ``model`` as uint8 batches, quantised like a saved PNG.

    Batch ``i`` (of :data:`SAMPLE_BATCH` images) uses seed ``seed + i``, so the images
    depend on ``n`` and ``seed`` only. A conditional generator is asked for every class
    in turn, as many of each (:func:`ganzoo.archs.sgan.conditional.class_order_labels`).
    """
    from ganzoo.archs.sgan.conditional import class_order_labels
    from ganzoo.io.images import to_uint8
    from ganzoo.sampling import sample_batches

    labels = class_order_labels(model, n)
    for batch in sample_batches(model, n, SAMPLE_BATCH, seed=seed, labels=labels):
        yield to_uint8(batch, model.value_range)


def _checked_like(batches: Iterable[torch.Tensor], real: torch.Tensor, name: str):  # noqa: ANN202
    """Pass the batches on, refusing the first whose image shape is not the real set's."""
    for batch in batches:
        if batch.shape[1:] != real.shape[1:]:
            raise GanzooError(
                f"the model draws {tuple(batch.shape[1:])} images but '{name}' holds "
                f"{tuple(real.shape[1:])}; load the real set in the model's shape "
                "(load_dataset(..., image_size=, channels=))"
            )
        yield batch


def feature_network_for_metrics(
    feature: str, device: str | torch.device | None = None
) -> nn.Module:
    """Check that FID/KID can be measured with ``feature`` and return its network.

    Fails at once, in one line naming the install command, when torchmetrics or the
    network's extra is missing: a training run calls this before its first step, not
    at its first evaluation hours later.
    """
    _torchmetrics()
    get_feature(feature)
    return load_feature(feature, device)


def _check_count(n: int, what: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise GanzooError(f"{what} must be at least 2, got {n}")


def generative_metrics(
    model: ZooModel,
    real_data: ImageDataset,
    n: int = 5000,
    *,
    metrics: str | Sequence[str] = ("fid", "kid"),
    feature: str = "inception-tf",
    seed: int = 0,
    real_n: int | None = None,
    split: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    device: str | torch.device | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    log: Callable[[str], None] | None = None,
    network: nn.Module | None = None,
) -> dict[str, Any]:
    """FID and/or KID of ``n`` images drawn from ``model`` against ``real_data``.

    Args:
        model: a model that can ``sample``.
        real_data: the real set, in the model's image shape.
        n: how many images to generate.
        metrics: ``"fid"``, ``"kid"``, or several (a list or a comma list).
        feature: the feature network's name (:func:`ganzoo.metrics.features.list_features`).
        seed: seeds the generated images, the choice of ``real_n`` images and KID's subsets.
        real_n: how many real images (default all of them).
        split: the real set's split, recorded in the protocol.
        cache_dir: where the real set's features are cached (default
            ``~/.cache/ganzoo/fid``, or ``$GANZOO_CACHE/fid``).
        use_cache: read and write that cache.
        device: where the feature network runs (default the model's device).
        kid_subsets: KID's number of subsets.
        kid_subset_size: KID's subset size (capped at the set sizes).
        log: called with a line before each slow step (progress).
        network: the feature network ``feature`` names, already built on ``device``
            (default: :func:`~ganzoo.metrics.features.load_feature`), e.g. kept by a trainer
            between evaluations.

    Returns:
        ``{"fid": ..., "kid": ..., "kid_std": ..., "protocol": {...}}`` with the metrics
        asked for; ``protocol`` names the real set (dataset, split, n, of, sha256), the
        generated images (n, seed), the feature network and KID's subsets, and
        ``cache`` the real features' cache file.

    Raises:
        GanzooError: for an unknown metric or feature network, a missing extra, a
            model that cannot sample, too few images, or a shape mismatch.

    Examples:
        >>> model = ganzoo.create_model("dcgan", preset="small")  # doctest: +SKIP
        >>> data = ganzoo.data.load_dataset("art64", "train")  # doctest: +SKIP
        >>> generative_metrics(model, data, n=5000, metrics="fid")["fid"]  # doctest: +SKIP

    """
    chosen = parse_metrics(metrics)
    _torchmetrics()  # fail before any slow work
    spec = get_feature(feature)
    _check_count(n, "the number of generated images")
    if real_n is not None:
        _check_count(real_n, "the number of real images")
    if not model.can("sample"):
        raise model._unsupported("sample")
    device = device if device is not None else model.device
    network = network if network is not None else load_feature(feature, device)
    real, real_info = real_features(
        real_data,
        feature,
        n=real_n,
        seed=seed,
        cache_dir=cache_dir,
        use_cache=use_cache,
        device=device,
        network=network,
        log=log,
    )
    if log is not None:
        log(f"embedding {n} generated images with {feature}")
    batches = _checked_like(generated_images(model, n, seed), real_data.images, real_data.name)
    fake = embed(batches, network, spec.dims, device)
    protocol: dict[str, Any] = {
        "real": _real_protocol(real_info, split),
        "generated": {"n": n, "seed": seed, "sample_batch": SAMPLE_BATCH},
        "feature": feature,
        "feature_dims": spec.dims,
    }
    results = _distances(real, fake, chosen, kid_subsets, kid_subset_size, seed, protocol)
    return {**results, "protocol": protocol, "cache": real_info["cache"]}


def _distances(
    a: torch.Tensor,
    b: torch.Tensor,
    chosen: Any,
    kid_subsets: int,
    kid_subset_size: int,
    seed: int,
    protocol: dict[str, Any],
) -> dict[str, Any]:
    """FID and/or KID between two feature sets; KID's subsets go into ``protocol``."""
    results: dict[str, Any] = {}
    if "fid" in chosen:
        results["fid"] = frechet_distance(a, b)
    if "kid" in chosen:
        mean, std, size = kernel_distance(a, b, kid_subsets, kid_subset_size, seed)
        results["kid"], results["kid_std"] = mean, std
        protocol["kid"] = {"subsets": kid_subsets, "subset_size": size, "seed": seed}
    return results


def _real_protocol(info: dict[str, Any], split: str | None) -> dict[str, Any]:
    keys = ("n", "of", "sha256")
    return {"dataset": info["dataset"], "split": split, **{k: info[k] for k in keys}}


def fid_floor(
    data: ImageDataset,
    *,
    feature: str = "inception-tf",
    seed: int = 0,
    n: int | None = None,
    split: str | None = None,
    metrics: str | Sequence[str] = ("fid",),
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    device: str | torch.device | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The data set's own floor: FID (and KID) of one random half of it against the other.

    A generator compared with ``n/2`` real images cannot expect to score much below
    this at that sample size. The halves are cut from the real features (so the
    cache of :func:`~ganzoo.metrics.feature_cache.real_features` serves here too) with ``seed``.

    Args:
        data: the real set.
        feature: the feature network's name.
        seed: seeds the choice of ``n`` images, the split and KID's subsets.
        n: how many images to split (default all).
        split: the set's split, recorded in the protocol.
        metrics: ``"fid"`` and/or ``"kid"``.
        cache_dir: the feature cache (see
            :func:`~ganzoo.metrics.feature_cache.real_features`).
        use_cache: read and write that cache.
        device: where the feature network runs.
        kid_subsets: KID's number of subsets.
        kid_subset_size: KID's subset size (capped at the half size).
        log: called with a line before a slow step.

    Returns:
        ``{"fid": ..., "kid": ..., "kid_std": ..., "protocol": {...}}``, the protocol
        naming the set, ``n``, the half size, the seed and the feature network.

    """
    chosen = parse_metrics(metrics)
    _torchmetrics()
    spec = get_feature(feature)
    if n is not None:
        _check_count(n, "n")
    if (n if n is not None else len(data)) < 4:
        raise GanzooError(f"the floor needs at least 4 images, '{data.name}' gives {len(data)}")
    features, info = real_features(
        data,
        feature,
        n=n,
        seed=seed,
        cache_dir=cache_dir,
        use_cache=use_cache,
        device=device,
        log=log,
    )
    order = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))
    half = len(features) // 2
    first, second = features[order[:half]], features[order[half : 2 * half]]
    protocol: dict[str, Any] = {
        "real": _real_protocol(info, split),
        "halves": half,
        "seed": seed,
        "feature": feature,
        "feature_dims": spec.dims,
    }
    results = _distances(first, second, chosen, kid_subsets, kid_subset_size, seed, protocol)
    return {**results, "protocol": protocol, "cache": info["cache"]}
