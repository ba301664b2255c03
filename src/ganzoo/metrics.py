"""Measuring models: accuracy and confusions, reconstruction, codebook usage, one evaluator.

The generative metrics (FID, KID, the data set's own floor) live in :mod:`ganzoo.fid`;
:func:`generative_metrics` and :func:`fid_floor` are re-exported here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ganzoo.data import ImageDataset, iterate_batches
from ganzoo.errors import GanzooError
from ganzoo.fid import fid_floor, generative_metrics

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel

__all__ = [
    "accuracy",
    "confusion_matrix",
    "confusion_summary",
    "evaluate_model",
    "fid_floor",
    "generative_metrics",
    "psnr_from_mse",
    "reconstruction_error",
    "vq_metrics",
]


@torch.no_grad()
def confusion_matrix(model: ZooModel, data: ImageDataset, batch_size: int = 1000) -> torch.Tensor:
    """Counts of ``model.classify``'s predictions: row = true class, column = predicted.

    A ``(classes, classes)`` long tensor on the CPU, ``classes`` being the width of the
    model's logits. Its diagonal over its row sums is the accuracy of each class, which
    shows a semi-supervised run that merged two classes.

    Raises:
        GanzooError: if the data set has no labels, is empty, or has labels beyond the
            model's classes.

    """
    if data.labels is None:
        raise GanzooError(f"data set '{data.name}' has no labels; accuracy needs a labeled set")
    counts: torch.Tensor | None = None
    classes = 0
    for images, labels in iterate_batches(data, batch_size, model.device):
        logits = model.classify(images)
        if counts is None:
            classes, top = logits.shape[1], int(data.labels.max())
            if top >= classes:
                raise GanzooError(
                    f"data set '{data.name}' has labels up to {top} but "
                    f"the model predicts {classes} classes; evaluate it on data of its own classes"
                )
            counts = torch.zeros(classes * classes, dtype=torch.long, device=logits.device)
        pairs = labels.long() * classes + logits.argmax(dim=1)
        counts.scatter_add_(0, pairs, torch.ones_like(pairs))  # no host sync, unlike bincount
    if counts is None:
        raise GanzooError(f"data set '{data.name}' is empty; nothing to measure")
    return counts.view(classes, classes).cpu()


def confusion_summary(counts: torch.Tensor, top: int = 5) -> dict[str, Any]:
    """Each class's accuracy and the largest confusions of a confusion matrix.

    Args:
        counts: a ``(classes, classes)`` matrix from :func:`confusion_matrix` (rows true
            class, columns predicted).
        top: how many of the largest off-diagonal counts to list.

    Returns:
        ``{"class_accuracy": [...], "confusions": [{"true", "predicted", "count",
        "share"}, ...]}``: a class without examples has accuracy ``None`` (JSON
        ``null``); ``share`` is the count over the true class's size; confusions are
        largest first, zeros left out.

    """
    counts = counts.double()
    sizes = counts.sum(dim=1)
    off_diagonal = counts - torch.diag(counts.diagonal())
    values, flat = off_diagonal.flatten().sort(descending=True, stable=True)
    confusions = []
    for value, index in zip(values[:top].tolist(), flat[:top].tolist(), strict=True):
        if value == 0:
            break
        true, predicted = divmod(index, counts.shape[1])
        confusions.append(
            {
                "true": true,
                "predicted": predicted,
                "count": int(value),
                "share": round(value / sizes[true].item(), 4),
            }
        )
    class_accuracy = [
        round(right / size, 4) if size else None
        for right, size in zip(counts.diagonal().tolist(), sizes.tolist(), strict=True)
    ]
    return {"class_accuracy": class_accuracy, "confusions": confusions}


def accuracy(model: ZooModel, data: ImageDataset, batch_size: int = 1000) -> float:
    """Fraction of ``data`` that ``model.classify`` labels correctly.

    Raises:
        GanzooError: if the data set has no labels.

    """
    counts = confusion_matrix(model, data, batch_size)
    return counts.trace().item() / len(data)


@torch.no_grad()
def reconstruction_error(
    model: ZooModel, data: ImageDataset, batch_size: int = 500
) -> dict[str, float]:
    """Mean squared error (on [-1, 1] pixels) and PSNR of ``model.reconstruct``."""
    device = model.device
    total = torch.zeros((), dtype=torch.float64, device=device)
    for images, _ in iterate_batches(data, batch_size, device):
        total += (
            (model.reconstruct(images).float() - images).pow(2).mean(dim=(1, 2, 3)).sum().double()
        )
    mse = total.item() / len(data)
    return {"mse": mse, "psnr": psnr_from_mse(mse)}


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of a mean squared error measured on ``[-1, 1]`` pixels.

    The PSNR is that of ``[0, 1]`` pixels (peak 1): the ``[-1, 1]`` range is twice as
    wide, so its MSE is four times larger: ``PSNR = 10 log10(4 / mse)``.
    """
    return 10 * math.log10(4.0 / mse) if mse > 0 else math.inf


@torch.no_grad()
def vq_metrics(model: ZooModel, data: ImageDataset, batch_size: int = 500) -> dict[str, float]:
    """A VQ-VAE on ``data`` in one pass: reconstruction, codebook usage and the prior's NLL.

    Returns:
        ``mse`` and ``psnr`` (dB) of ``decode(encode(x))`` as :func:`reconstruction_error`
        measures them; ``perplexity``, ``exp(H(p))`` of the frequencies ``p`` of the codes
        over the whole of ``data`` (1 to K), and ``used_codes``, the number of codes used
        at least once; with a prior, ``prior_bits_per_dim``, its negative log-likelihood
        of the code grids in bits per code (``log2 K`` for a uniform prior).

    Raises:
        GanzooError: for an empty data set.

    """
    if len(data) == 0:
        raise GanzooError(f"data set '{data.name}' is empty; nothing to measure")
    device, k = model.device, int(model.config.num_codes)
    squared = torch.zeros((), dtype=torch.float64, device=device)
    nll = torch.zeros((), dtype=torch.float64, device=device)
    counts = torch.zeros(k, dtype=torch.long, device=device)
    prior = getattr(model, "prior", None)
    positions = 0
    for images, _ in iterate_batches(data, batch_size, device):
        codes = model.encode(images)
        rebuilt = model.decode(codes).float()
        squared += (rebuilt - images).pow(2).mean(dim=(1, 2, 3)).sum().double()
        flat = codes.flatten()
        counts.scatter_add_(0, flat, torch.ones_like(flat))  # no host sync, unlike bincount
        positions += flat.numel()
        if prior is not None:
            logits = prior(codes).float()
            nll += F.cross_entropy(logits, codes, reduction="sum").double()
    mse = squared.item() / len(data)
    probs = counts.double() / positions
    results = {
        "mse": mse,
        "psnr": psnr_from_mse(mse),
        "perplexity": torch.exp(-torch.special.xlogy(probs, probs).sum()).item(),
        "used_codes": int((counts > 0).sum()),
    }
    if prior is not None:
        results["prior_bits_per_dim"] = nll.item() / positions / math.log(2.0)
    return results


def evaluate_model(model: ZooModel, data: ImageDataset, batch_size: int = 1000) -> dict[str, Any]:
    """Every measure the model supports on ``data``: accuracy, reconstruction error, codes.

    A classifier on labeled data gets ``accuracy`` and, from the same pass over the
    data, each class's accuracy and its largest confusions (:func:`confusion_summary`);
    a model that reconstructs gets ``mse`` and ``psnr``; a model with a codebook (a
    ``quantizer``: the VQ-VAE) also gets its ``perplexity`` and ``used_codes``, and with a
    ``prior`` the prior's ``prior_bits_per_dim`` (:func:`vq_metrics`).

    Raises:
        GanzooError: if the model offers nothing to measure on this data.

    """
    results: dict[str, Any] = {}
    if model.can("classify") and data.labels is not None:
        counts = confusion_matrix(model, data, batch_size)
        results["accuracy"] = counts.trace().item() / len(data)
        results.update(confusion_summary(counts))
    if getattr(model, "quantizer", None) is not None:
        results.update(vq_metrics(model, data, batch_size))
    elif model.can("reconstruct"):
        results.update(reconstruction_error(model, data, batch_size))
    if not results:
        hint = "; for a generator ask for FID/KID (--metric fid,kid)" if model.can("sample") else ""
        raise GanzooError(
            f"nothing to evaluate: '{model.architecture}' cannot classify or reconstruct "
            f"(or '{data.name}' has no labels){hint}"
        )
    return results
