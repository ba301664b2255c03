"""Measuring models: accuracy and confusions, reconstruction error, a generic evaluator."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ganzoo.data import ImageDataset, iterate_batches
from ganzoo.errors import GanzooError

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel


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
    # PSNR on [0, 1] pixels: the [-1, 1] range is twice as wide, so MSE shrinks by 4.
    psnr = 10 * math.log10(1.0 / (mse / 4)) if mse > 0 else math.inf
    return {"mse": mse, "psnr": psnr}


def evaluate_model(model: ZooModel, data: ImageDataset, batch_size: int = 1000) -> dict[str, float]:
    """Every measure the model supports on ``data``: accuracy, reconstruction error.

    Raises:
        GanzooError: if the model offers nothing to measure on this data.

    """
    results: dict[str, float] = {}
    if model.can("classify") and data.labels is not None:
        results["accuracy"] = accuracy(model, data, batch_size)
    if model.can("reconstruct"):
        results.update(reconstruction_error(model, data, batch_size))
    if not results:
        raise GanzooError(
            f"nothing to evaluate: '{model.architecture}' cannot classify or reconstruct "
            f"(or '{data.name}' has no labels)"
        )
    return results
