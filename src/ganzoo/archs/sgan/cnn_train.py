"""Training the CNN baseline of the course report: cross-entropy on the labeled subset only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ganzoo.archs.sgan.labeled import LabeledConfig, attach_labeled
from ganzoo.losses import classification_loss
from ganzoo.registry import register_trainer
from ganzoo.train.base import Trainer


@dataclass
class ClassifierTrainConfig(LabeledConfig):
    """Classifier options; the defaults are the report's (Adam 2e-4, β1 0.5, 600 steps)."""

    sample_every: int = 0


CNN_RECIPES = {
    "report": ClassifierTrainConfig(),
    "best": ClassifierTrainConfig(steps=3000, augment_shift=2, ema_decay=0.995, eval_every=500),
}


@register_trainer("cnn", recipes=CNN_RECIPES)
class ClassifierTrainer(Trainer):
    """Supervised training of the CNN baseline on the labeled subset (``labeled``).

    Recipes: ``report`` (faithful) and ``best`` (labeled-set translations, weight EMA,
    a longer schedule).
    """

    config_class = ClassifierTrainConfig
    config: ClassifierTrainConfig

    def setup(self) -> None:
        """Only the labeled subset on the device (the full training set is not copied)."""
        attach_labeled(self, self.config)

    def data_fingerprint(self) -> dict[str, Any]:
        """The data set's fingerprint plus a hash of the labeled subset's indices."""
        return {**super().data_fingerprint(), **self.labeled.fingerprint()}

    def evaluate(self) -> dict[str, float]:
        """Accuracy of ``model.classify`` on ``eval_data``; its confusion in ``last_confusion``."""
        results, self.last_confusion = self.labeled.evaluate(self.model, self.eval_data)
        return results

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam over the classifier."""
        return {"c": self.adam(self.model.classifier.parameters())}

    def ema_module(self) -> torch.nn.Module:
        """The whole model: the EMA weights classify at evaluation."""
        return self.model

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A labeled batch (no unlabeled data)."""
        return self.labeled.next()

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One cross-entropy step."""
        x, y = batch
        loss = classification_loss(self.model.classify(x), y)
        self.optimizer_step("c", loss)
        return {"c": loss.detach()}
