"""Reading generated digits: confidence, class balance, and an MNIST FID with its floor.

A generator of MNIST digits can have a low FID and still draw few digits a reader
would recognise, or draw mostly 7s and 9s. Two numbers read the samples with an
independent classifier, ganzoo's shipped ``mnist-classifier``
(:mod:`ganzoo.metrics.networks`, trained on all 60,000 MNIST training labels):

* **confidence**: the share of samples whose largest softmax probability is at least
  a threshold (0.9 by default) — digits the classifier reads without doubt;
* **balance**: the share of samples given to each class (argmax of the logits) and
  its Kullback-Leibler divergence from the uniform distribution,
  ``KL(p || u) = sum_k p_k log(p_k K)`` with ``0 log 0 = 0``: 0 for exactly balanced
  classes, ``log K`` (2.303 for ten classes) when every sample is one class;
* **agreement**, for a conditional generator (``model.conditional``): the share of
  samples the classifier reads as the class they were drawn for. Such a generator is
  asked for every class in turn, as many of each (so its balance measures what it
  drew, not what it was asked).

FID in the same classifier's feature space (``--feature mnist-classifier``) comes
from :func:`ganzoo.metrics.fid.generative_metrics`; its floor here is the same FID with the
generator replaced by real images of the other split (:func:`split_floor`): MNIST's
test digits against the training set, the same count as the generated images.

The pure functions (:func:`confidence`, :func:`class_shares`, :func:`kl_from_uniform`,
:func:`balance`, :func:`agreement`) take logits; :func:`read_samples` and
:func:`sample_metrics` draw and measure a model, as ``ganzoo eval --metric
fid,confidence,balance`` does.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.metrics.fid import METRICS as GENERATIVE_METRICS
from ganzoo.metrics.fid import parse_metrics

if TYPE_CHECKING:
    from ganzoo.data import ImageDataset
    from ganzoo.metrics.networks import MNISTClassifierNet
    from ganzoo.models.base import ZooModel

#: The metrics that read samples with the MNIST classifier.
READING_METRICS: tuple[str, ...] = ("confidence", "balance", "agreement")
#: Every metric ``ganzoo eval --metric`` knows.
EVAL_METRICS: tuple[str, ...] = (*GENERATIVE_METRICS, *READING_METRICS)
#: The feature network that reads digits (and the feature space of the MNIST FID).
CLASSIFIER = "mnist-classifier"
#: The default softmax threshold of :func:`confidence`.
DEFAULT_THRESHOLD = 0.9
#: The image shape the classifier reads: one channel, 28x28.
DIGIT_SHAPE = (1, 28, 28)


# ------------------------------------------------------------------------------- pure functions
def _check_logits(logits: torch.Tensor) -> None:
    if logits.dim() != 2 or logits.shape[0] < 1 or logits.shape[1] < 2:
        raise GanzooError(
            f"logits must be (N, K) with N >= 1 and K >= 2 classes, got {tuple(logits.shape)}"
        )


def confidence(logits: torch.Tensor, threshold: float = DEFAULT_THRESHOLD) -> float:
    """The share of rows whose largest softmax probability is at least ``threshold``.

    Args:
        logits: class logits ``(N, K)``.
        threshold: the probability a reading must reach, in (0, 1].

    Raises:
        GanzooError: for a threshold outside (0, 1] or logits not ``(N, K)``.

    """
    if not 0.0 < threshold <= 1.0:
        raise GanzooError(f"the confidence threshold must be in (0, 1], got {threshold}")
    _check_logits(logits)
    top = logits.detach().double().softmax(dim=1).max(dim=1).values
    return float((top >= threshold).double().mean())


def class_shares(logits: torch.Tensor) -> torch.Tensor:
    """The share of rows given to each class by the argmax of ``logits``: float64 ``(K,)``.

    Raises:
        GanzooError: for logits not ``(N, K)``.

    """
    _check_logits(logits)
    counts = torch.bincount(logits.detach().argmax(dim=1).cpu(), minlength=logits.shape[1])
    return counts.double() / len(logits)


def kl_from_uniform(shares: torch.Tensor | Sequence[float]) -> float:
    """``KL(p || u) = sum_k p_k log(p_k K)`` for a distribution ``p`` over ``K`` classes.

    Empty classes contribute nothing (``0 log 0 = 0``), so the value is finite for any
    histogram: 0 for ``p = u``, ``log K`` when all mass is on one class. Computed in
    float64.

    Raises:
        GanzooError: if ``shares`` is not a distribution (negative, or not summing to 1).

    """
    p = torch.as_tensor(shares, dtype=torch.float64).flatten()
    if len(p) < 1 or not torch.isfinite(p).all() or (p < 0).any():
        raise GanzooError("class shares must be finite and non-negative")
    if abs(float(p.sum()) - 1.0) > 1e-6:
        raise GanzooError(f"class shares must sum to 1, got {float(p.sum()):.6g}")
    used = p[p > 0]
    return max(0.0, float((used * (used * len(p)).log()).sum()))


def balance(logits: torch.Tensor) -> dict[str, Any]:
    """The class histogram of the argmax predictions and its KL divergence from uniform.

    Returns:
        ``{"class_shares": [K floats], "kl_uniform": float}`` (see :func:`class_shares`
        and :func:`kl_from_uniform`).

    """
    shares = class_shares(logits)
    return {"class_shares": shares.tolist(), "kl_uniform": kl_from_uniform(shares)}


def agreement(logits: torch.Tensor, labels: torch.Tensor | Sequence[int]) -> float:
    """The share of rows whose top class (argmax of ``logits``) is the row's label.

    For a conditional generator's samples and the labels they were drawn with: how
    often an independent reader sees the digit that was asked for.

    Raises:
        GanzooError: for logits not ``(N, K)`` or not one label per row.

    """
    _check_logits(logits)
    asked = torch.as_tensor(labels).reshape(-1).cpu()
    if len(asked) != len(logits):
        raise GanzooError(f"got {len(asked)} labels for {len(logits)} rows of logits")
    return float((logits.detach().argmax(dim=1).cpu() == asked).double().mean())


# ------------------------------------------------------------------------------- names and models
def parse_eval_metrics(names: str | Iterable[str]) -> tuple[list[str], list[str]]:
    """Split metric names (a comma list or several) into FID/KID ones and reading ones.

    Returns:
        ``(generative, reading)``, e.g. ``(["fid"], ["confidence", "balance"])``.

    Raises:
        GanzooError: for an unknown or empty name, with a did-you-mean.

    """
    chosen = parse_metrics(names, EVAL_METRICS)
    return (
        [m for m in chosen if m in GENERATIVE_METRICS],
        [m for m in chosen if m in READING_METRICS],
    )


def check_digit_generator(model: ZooModel, name: str | None = None) -> None:
    """Refuse, in one line, a model that cannot draw 1x28x28 images for the classifier.

    Raises:
        GanzooError: naming the models that work, when the model cannot sample or its
            data contract is not one channel of 28x28 pixels.

    """
    if not model.can("sample"):
        raise model._unsupported("sample")
    contract = model.data_contract()
    shape = (contract.get("channels"), contract.get("image_size"), contract.get("image_size"))
    if shape != DIGIT_SHAPE:
        drawn = "x".join(str(s) for s in shape) if None not in shape else "images of no stated size"
        raise GanzooError(
            f"confidence and balance read MNIST-like digits (1x28x28 images, e.g. "
            f"sgan-mnist-100, vaegan-mnist-100); '{name or model.architecture}' draws "
            f"{drawn}; fid and kid work for any generator"
        )


def check_conditional_generator(model: ZooModel, name: str | None = None) -> None:
    """Refuse, in one line, agreement for a model without a conditional generator.

    Raises:
        GanzooError: naming where conditional generators come from.

    """
    if not model.conditional:
        from ganzoo.archs.sgan.conditional import conditional_generators

        raise GanzooError(
            f"agreement compares the samples with the classes they were drawn for; "
            f"'{name or model.architecture}' has no conditional generator; "
            f"{conditional_generators()}"
        )


# ------------------------------------------------------------------------------- measuring
@torch.inference_mode()
def read_samples(
    model: ZooModel,
    n: int = 5000,
    *,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    device: str | torch.device | None = None,
    network: MNISTClassifierNet | None = None,
) -> dict[str, Any]:
    """Draw ``n`` images from ``model`` and read them with the MNIST classifier.

    The images are those :func:`ganzoo.metrics.fid.generative_metrics` embeds for the same
    ``n`` and ``seed`` (quantised to uint8 like a saved PNG), so FID, confidence and
    balance describe one set of samples.

    Args:
        model: a generator of 1x28x28 images.
        n: how many images.
        seed: their seed (batch ``i`` of 500 uses ``seed + i``).
        threshold: the softmax probability a confident reading reaches.
        device: where the classifier runs (default the model's device).
        network: the classifier (default the shipped one).

    Returns:
        ``{"confidence", "class_shares", "kl_uniform", "protocol"}``, and ``agreement``
        for a conditional generator; ``protocol`` names the classifier, its test
        accuracy, the threshold, ``n`` and the seed (and the labels asked for).

    Raises:
        GanzooError: for a model that draws other images, a bad threshold or ``n < 1``.

    """
    from ganzoo.archs.sgan.conditional import class_order_labels
    from ganzoo.metrics.features import load_feature
    from ganzoo.metrics.fid import SAMPLE_BATCH, generated_images

    check_digit_generator(model)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise GanzooError(f"the number of generated images must be at least 1, got {n}")
    if not 0.0 < threshold <= 1.0:
        raise GanzooError(f"the confidence threshold must be in (0, 1], got {threshold}")
    device = device if device is not None else model.device
    network = network if network is not None else load_feature(CLASSIFIER, device)
    logits = []
    for batch in generated_images(model, n, seed):
        if tuple(batch.shape[1:]) != DIGIT_SHAPE:
            raise GanzooError(
                f"the model drew {tuple(batch.shape[1:])} images; the classifier reads "
                f"{DIGIT_SHAPE}"
            )
        logits.append(network.logits(batch.to(device)).double().cpu())
    all_logits = torch.cat(logits)
    generated: dict[str, Any] = {"n": n, "seed": seed, "sample_batch": SAMPLE_BATCH}
    results: dict[str, Any] = {
        "confidence": confidence(all_logits, threshold),
        **balance(all_logits),
    }
    asked = class_order_labels(model, n)
    if asked is not None:
        results["agreement"] = agreement(all_logits, asked)
        generated["labels"] = "every class in turn, as many of each (class_order_labels)"
    return {
        **results,
        "protocol": {
            "classifier": CLASSIFIER,
            "classifier_test_accuracy": _classifier_accuracy(),
            "threshold": threshold,
            "generated": generated,
        },
    }


def _classifier_accuracy() -> float | None:
    from ganzoo.metrics.networks import mnist_classifier_record

    try:
        value = mnist_classifier_record().get("test", {}).get("accuracy")
    except GanzooError:
        return None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def split_floor(
    reference: ImageDataset,
    other: ImageDataset,
    n: int | None = None,
    *,
    feature: str = CLASSIFIER,
    seed: int = 0,
    reference_n: int | None = None,
    reference_split: str | None = "train",
    other_split: str | None = "test",
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    device: str | torch.device | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """FID of real images of another split against the reference set: a generator's floor.

    With MNIST: ``n`` test digits (chosen with ``seed``; all 10,000 by default) against
    the training set, in ``feature``'s space — what a generator that drew real unseen
    digits would score under the same protocol. Both sets' features are cached
    (:func:`ganzoo.metrics.feature_cache.real_features`), so the second call costs a second.

    Args:
        reference: the set the generator is compared with (e.g. MNIST train).
        other: real images the generator did not see (e.g. MNIST test).
        n: how many images of ``other`` (default all; capped at its size).
        feature: the feature network.
        seed: seeds the choice of images.
        reference_n: how many reference images (default all), as ``real_n`` of
            :func:`ganzoo.metrics.fid.generative_metrics`.
        reference_split: the reference set's split, for the protocol.
        other_split: the other set's split, for the protocol.
        cache_dir: the feature cache.
        use_cache: read and write it.
        device: where the feature network runs.
        log: called with a line before a slow step.

    Returns:
        ``{"fid": float, "protocol": {"real": ..., "other": ..., "feature": ...}}``.

    """
    from ganzoo.metrics.feature_cache import real_features
    from ganzoo.metrics.fid import _real_protocol, frechet_distance

    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 2):
        raise GanzooError(f"the floor needs at least 2 images, got n={n}")
    n = None if n is None or n >= len(other) else n
    common = {"seed": seed, "cache_dir": cache_dir, "use_cache": use_cache, "device": device}
    real, real_info = real_features(reference, feature, n=reference_n, log=log, **common)
    held, held_info = real_features(other, feature, n=n, log=log, **common)
    return {
        "fid": frechet_distance(real, held),
        "protocol": {
            "real": _real_protocol(real_info, reference_split),
            "other": _real_protocol(held_info, other_split),
            "seed": seed,
            "feature": feature,
        },
    }


def sample_metrics(
    model: ZooModel,
    real_data: ImageDataset | None = None,
    n: int = 5000,
    *,
    metrics: str | Sequence[str] = ("fid", "confidence", "balance"),
    feature: str = "inception-tf",
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    real_n: int | None = None,
    split: str | None = None,
    floor_data: ImageDataset | None = None,
    floor_split: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    device: str | torch.device | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """FID/KID and the classifier's readings of ``n`` images of ``model``: ``ganzoo eval --metric``.

    Args:
        model: a generator (1x28x28 images for confidence and balance; a conditional
            one for agreement).
        real_data: the reference set for FID/KID (not needed for the others).
        n: how many images to generate.
        metrics: names from :data:`EVAL_METRICS` (a list or a comma list).
        feature: FID/KID's feature network (``"mnist-classifier"`` for MNIST-like data).
        seed: seeds the generated images (and the choices of real images).
        threshold: confidence's softmax threshold.
        real_n: how many reference images (default all).
        split: the reference set's split, for the protocol.
        floor_data: real images of another split (e.g. MNIST test); when given with
            ``fid``, the result holds ``floor``: :func:`split_floor` with ``n`` of them.
        floor_split: that split's name, for the protocol.
        cache_dir: the cache of real features.
        use_cache: read and write it.
        device: where the networks run (default the model's device).
        log: called with a line before each slow step.

    Returns:
        The asked metrics (``fid``, ``kid``/``kid_std``, ``confidence``,
        ``class_shares``/``kl_uniform``, ``agreement``), ``floor`` when measured, ``cache``, and one
        ``protocol``: the real set, the generated images, the feature network and,
        under ``reading``, the classifier and threshold.

    Examples:
        >>> model = ganzoo.from_pretrained("sgan-mnist-100")  # doctest: +SKIP
        >>> data = ganzoo.data.load_dataset("mnist", "train")  # doctest: +SKIP
        >>> sample_metrics(model, data, 2000, feature="mnist-classifier")  # doctest: +SKIP

    """
    from ganzoo.metrics.features import load_feature
    from ganzoo.metrics.fid import generative_metrics

    generative, reading = parse_eval_metrics(metrics)
    if generative and real_data is None:
        raise GanzooError(f"{' and '.join(generative)} need a real set to compare with")
    classifier = None
    if reading:  # every check and the classifier's weights before any slow work
        check_digit_generator(model)
        if "agreement" in reading:
            check_conditional_generator(model)
        if not 0.0 < threshold <= 1.0:
            raise GanzooError(f"the confidence threshold must be in (0, 1], got {threshold}")
        device = device if device is not None else model.device
        classifier = load_feature(CLASSIFIER, device)
    results: dict[str, Any] = {}
    protocol: dict[str, Any] = {}
    if generative:
        found = generative_metrics(
            model,
            real_data,
            n,
            metrics=generative,
            feature=feature,
            seed=seed,
            real_n=real_n,
            split=split,
            cache_dir=cache_dir,
            use_cache=use_cache,
            device=device,
            log=log,
            network=classifier if feature == CLASSIFIER else None,
        )
        protocol = found.pop("protocol")
        results.update(found)
        if "fid" in generative and floor_data is not None:
            results["floor"] = split_floor(
                real_data,
                floor_data,
                n,
                feature=feature,
                seed=seed,
                reference_n=real_n,
                reference_split=split,
                other_split=floor_split,
                cache_dir=cache_dir,
                use_cache=use_cache,
                device=device if device is not None else model.device,
                log=log,
            )
    if reading:
        if log is not None:
            log(f"reading {n} generated images with {CLASSIFIER}")
        read = read_samples(
            model, n, seed=seed, threshold=threshold, device=device, network=classifier
        )
        read_protocol = read.pop("protocol")
        protocol.setdefault("generated", read_protocol.pop("generated"))
        protocol["reading"] = read_protocol
        if "confidence" in reading:
            results["confidence"] = read["confidence"]
        if "balance" in reading:
            results["class_shares"] = read["class_shares"]
            results["kl_uniform"] = read["kl_uniform"]
        if "agreement" in reading:
            results["agreement"] = read["agreement"]
    return {**results, "protocol": protocol}
