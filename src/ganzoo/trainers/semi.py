"""What every semi-supervised trainer shares: the labeled subset, its batches, test accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ganzoo.data import labeled_subset
from ganzoo.errors import GanzooError
from ganzoo.metrics import confusion_matrix
from ganzoo.nn.augment import random_translate
from ganzoo.trainers.base import Trainer
from ganzoo.trainers.config import TrainConfig, check_at_least
from ganzoo.trainers.run_folder import tensor_digest


@dataclass
class SemiSupervisedConfig(TrainConfig):
    """Loop options plus the labeled subset.

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


class SemiSupervisedTrainer(Trainer):
    """Base of the SGAN, CNN and VAE-GAN trainers: labeled batches and test accuracy."""

    config: SemiSupervisedConfig
    #: Whether the trainer draws unlabeled images (the CNN baseline does not, so the
    #: full training set is not copied to the device for it).
    uses_unlabeled: ClassVar[bool] = True

    def setup(self) -> None:
        """Pick the labeled subset and put labeled and unlabeled data on the device."""
        #: Confusion matrix of the latest evaluation (``None`` before the first).
        self.last_confusion: torch.Tensor | None = None
        if self.data.labels is None:
            raise GanzooError(f"data set '{self.data.name}' has no labels; pick a labeled one")
        index = labeled_subset(self.data.labels, self.config.labels, seed=self.config.label_seed)
        #: Indices of the labeled images in ``data`` (checked on resume).
        self.labeled_index = index
        self.labeled_data = self.data.subset(index)
        self.labeled = self.make_batcher(self.labeled_data, self.config.labeled_batch, "labeled")
        self.augment_rng = self.make_generator("augment")
        if self.uses_unlabeled:
            self.batches = self.make_batcher(self.data, self.unlabeled_batch_size(), "unlabeled")

    def data_fingerprint(self) -> dict[str, Any]:
        """The data set's fingerprint plus a hash of the labeled subset's indices."""
        return {**super().data_fingerprint(), "labeled_subset": tensor_digest(self.labeled_index)}

    def unlabeled_batch_size(self) -> int:
        """Unlabeled (real) images per step."""
        return self.config.batch_size // 2

    def labeled_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next labeled images (augmented if asked) and their labels."""
        x, y = self.labeled.next()
        return random_translate(x, self.config.augment_shift, self.augment_rng), y

    def evaluate(self) -> dict[str, float]:
        """Accuracy of ``model.classify`` on ``eval_data`` (the test split).

        The confusion matrix it comes from stays in ``last_confusion`` (rows true class,
        columns predicted), for the accuracy of each class.
        """
        self.last_confusion = confusion_matrix(self.model, self.eval_data)
        return {"test_accuracy": self.last_confusion.trace().item() / len(self.eval_data)}
