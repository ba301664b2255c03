"""The labeled data of the semi-supervised trainers: a component, not a base class.

The SGAN, CNN and VAE-GAN trainers each hold one :class:`LabeledData` (``trainer.labeled``):
the class-balanced labeled subset, its batcher, the augmentation generator, the weak
view of labeled batches, the subset's share of the data fingerprint, and the test
accuracy. Their loops stay their own base classes' (the SGAN trainer *is* the
:class:`~ganzoo.train.gan.GANTrainer`), and :class:`LabeledConfig` adds the subset's
options to any training config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from ganzoo.archs.sgan.augment import random_translate
from ganzoo.config import check_at_least
from ganzoo.data import DeviceBatcher, ImageDataset, labeled_subset
from ganzoo.errors import GanzooError
from ganzoo.metrics.classification import confusion_matrix
from ganzoo.train.config import TrainConfig
from ganzoo.train.run_folder import tensor_digest


@dataclass
class LabeledConfig(TrainConfig):
    """Loop options plus the labeled subset (mixed into the semi-supervised configs).

    Attributes:
        labels: size of the class-balanced labeled subset (n/10 per digit).
        label_seed: seed of the subset choice (the same seed, the same images).
        labeled_batch: labeled images per step (the report's half batch: 50).
        augment_shift: random translation of labeled images, in pixels (0: none).

    """

    labels: int = 100
    label_seed: int = 0
    labeled_batch: int = 50
    augment_shift: int = 0
    eval_every: int = 100

    def validate(self) -> None:
        """Check the loop options and the subset size."""
        super().validate()
        for name, low in (("labels", 1), ("labeled_batch", 1), ("label_seed", 0)):
            check_at_least(self, name, low)
        check_at_least(self, "augment_shift", 0)


class _Owner(Protocol):
    """What :class:`LabeledData` needs of its trainer."""

    data: ImageDataset
    eval_data: ImageDataset | None
    model: nn.Module

    def make_generator(self, name: str) -> torch.Generator: ...  # noqa: D102

    def make_batcher(  # noqa: D102
        self, dataset: ImageDataset, batch_size: int, name: str
    ) -> DeviceBatcher: ...


def check_label_range(data: ImageDataset | None, num_classes: int) -> None:
    """Refuse a data set whose labels are not all classes of a ``num_classes`` model.

    Args:
        data: The data set (``None`` or one without labels passes).
        num_classes: The model's classes, labels ``0..num_classes-1``.

    Raises:
        GanzooError: Naming the labels found and ``--model-set num_classes=N``.

    """
    if data is None or data.labels is None or not len(data.labels):
        return
    low, high = int(data.labels.min()), int(data.labels.max())
    if low < 0:
        raise GanzooError(
            f"data set '{data.name}' has negative labels (down to {low}); "
            f"use class indices 0..{num_classes - 1}"
        )
    if high >= num_classes:
        distinct = len(torch.unique(data.labels))
        raise GanzooError(
            f"data set '{data.name}' has labels {low}..{high} ({distinct} distinct) but the "
            f"model has num_classes={num_classes}; train one with --model-set "
            f"num_classes={high + 1} (from Python: num_classes={high + 1} in its config)"
        )


class LabeledData:
    """The labeled subset of a trainer's data, its batches and the accuracy on a test split.

    Building it creates two of the trainer's checkpointed generators, in this order:
    ``"labeled"`` (the subset's batch order) and ``"augment"`` (its translations, which
    the trainer may share for its other augmentations).

    Args:
        trainer: the owner (its ``data``, ``make_batcher`` and ``make_generator``).
        config: the subset's options.

    Raises:
        GanzooError: if the data set has no labels, or labels the model has no class for.

    """

    def __init__(self, trainer: _Owner, config: LabeledConfig) -> None:
        data = trainer.data
        if data.labels is None:
            raise GanzooError(f"data set '{data.name}' has no labels; pick a labeled one")
        num_classes = trainer.model.config.num_classes
        for checked in (data, trainer.eval_data):
            check_label_range(checked, num_classes)
        #: Indices of the labeled images in the trainer's data (checked on resume).
        self.index = labeled_subset(data.labels, config.labels, seed=config.label_seed)
        #: The labeled images and their labels.
        self.data = data.subset(self.index)
        #: Random batches of the labeled images (checkpointed as ``"labeled"``).
        self.batches = trainer.make_batcher(self.data, config.labeled_batch, "labeled")
        #: The generator of the labeled images' translations (checkpointed as ``"augment"``).
        self.augment_rng = trainer.make_generator("augment")
        self.shift = config.augment_shift

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next labeled images in the weak view (±``augment_shift`` px) and their labels."""
        x, y = self.batches.next()
        return random_translate(x, self.shift, self.augment_rng), y

    def fingerprint(self) -> dict[str, Any]:
        """The subset's share of the trainer's data fingerprint (a hash of its indices)."""
        return {"labeled_subset": tensor_digest(self.index)}

    @staticmethod
    def evaluate(
        model: nn.Module, eval_data: ImageDataset
    ) -> tuple[dict[str, float], torch.Tensor]:
        """Accuracy of ``model.classify`` on ``eval_data`` and the confusion matrix it comes from.

        Returns:
            ``({"test_accuracy": ...}, confusion)``, the confusion matrix with rows for the
            true class and columns for the predicted one.

        """
        confusion = confusion_matrix(model, eval_data)
        return {"test_accuracy": confusion.trace().item() / len(eval_data)}, confusion


def attach_labeled(trainer: Any, config: LabeledConfig) -> LabeledData:
    """Give ``trainer`` its labeled-data component (the SGAN's, the CNN's, the VAE-GAN's).

    Sets ``trainer.labeled`` (the labeled subset, its batches and the test accuracy),
    ``trainer.labeled_data`` (the labeled images and their labels, ``labeled.data``) and
    ``trainer.last_confusion`` (the confusion matrix of the latest evaluation, ``None``
    before the first), and returns the component.
    """
    trainer.labeled = LabeledData(trainer, config)
    trainer.labeled_data = trainer.labeled.data
    trainer.last_confusion = None
    return trainer.labeled
