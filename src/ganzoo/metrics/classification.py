"""Measuring classifiers: accuracy, the confusion matrix and its largest confusions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ganzoo.data import ImageDataset, iterate_batches
from ganzoo.errors import GanzooError

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel

__all__ = ["accuracy", "confusion_matrix", "confusion_summary"]


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
