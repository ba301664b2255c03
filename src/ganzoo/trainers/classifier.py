"""Training the CNN baseline (SPEC §2): cross-entropy on the labeled subset only."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganzoo.losses import classification_loss
from ganzoo.registry import register_trainer
from ganzoo.trainers.semi import SemiSupervisedConfig, SemiSupervisedTrainer


@dataclass
class ClassifierTrainConfig(SemiSupervisedConfig):
    """Classifier options; the defaults are the report's (Adam 2e-4, β1 0.5, 600 steps)."""

    sample_every: int = 0


@register_trainer("cnn")
class ClassifierTrainer(SemiSupervisedTrainer):
    """Supervised training of the CNN baseline on the labeled subset.

    Recipes: ``report`` (faithful) and ``best`` (labeled-set translations, weight EMA,
    a longer schedule).
    """

    config_class = ClassifierTrainConfig
    uses_unlabeled = False
    recipes = {
        "report": ClassifierTrainConfig(),
        "best": ClassifierTrainConfig(steps=3000, augment_shift=2, ema_decay=0.995, eval_every=500),
    }

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam over the classifier."""
        return {"c": self.adam(self.model.classifier.parameters())}

    def ema_module(self) -> torch.nn.Module:
        """The whole model: the EMA weights classify at evaluation."""
        return self.model

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A labeled batch (no unlabeled data)."""
        return self.labeled_batch()

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One cross-entropy step."""
        x, y = batch
        loss = classification_loss(self.model.classify(x), y)
        self.optimizer_step("c", loss)
        return {"c": loss.detach()}
