"""Training the semi-supervised GAN (SPEC §1): the report's protocol and feature matching."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ganzoo import losses
from ganzoo.errors import GanzooError
from ganzoo.registry import register_trainer
from ganzoo.trainers.semi import SemiSupervisedConfig, SemiSupervisedTrainer


@dataclass
class SGANTrainConfig(SemiSupervisedConfig):
    """SGAN options; the defaults are the report's protocol.

    Attributes:
        generator_loss: ``"ns"`` (the report: non-saturating, fakes labeled 1 through D),
            ``"fm"`` (feature matching, Salimans et al. 2016: match the mean of D's last
            convolutional features on real and generated batches; best for classification,
            poorer samples) or ``"fm+ns"`` (their sum).
        joint_d_update: one update of the shared backbone on
            ``CE(labeled) + BCE(real) + BCE(fake)`` (Salimans et al.) instead of the report's
            three separate updates (C, D on real, D on fake), each with its own Adam.
        unsupervised_weight: weight of the real/fake loss in the joint update.

    """

    generator_loss: str = "ns"
    joint_d_update: bool = False
    unsupervised_weight: float = 1.0

    def validate(self) -> None:
        """Check the generator loss choice too."""
        super().validate()
        if self.generator_loss not in ("ns", "fm", "fm+ns"):
            raise GanzooError(
                f"generator_loss must be 'ns', 'fm' or 'fm+ns', got '{self.generator_loss}'"
            )


@register_trainer("sgan")
class SGANTrainer(SemiSupervisedTrainer):
    """SGAN training, one step per call of :meth:`train_step`.

    ``report`` recipe (the report's Keras protocol, half batches of 50): update C on
    labeled images; update D on 50 real images (label 1), then on 50 generated ones
    (label 0); update G on 100 fakes labeled 1 through the unchanged D. C and D share
    the backbone but, as in Keras, each has its own Adam (2e-4, β1 0.5).

    ``fm`` recipe (Salimans et al.): one joint backbone update on half batches (50
    labeled, 50 real, 50 generated, the fakes reused for G), feature matching for G,
    ±2-pixel translations of the labeled images, an EMA of all weights and a longer
    schedule. ``hybrid`` is the same with G on feature matching plus the non-saturating
    loss, which keeps the samples recognisable; ``best`` is ``hybrid``.
    """

    config_class = SGANTrainConfig
    _fm = SGANTrainConfig(
        steps=6000,
        generator_loss="fm",
        joint_d_update=True,
        augment_shift=2,
        ema_decay=0.999,
        eval_every=500,
        sample_every=1000,
        lr=3e-4,
    )
    recipes = {
        "report": SGANTrainConfig(),
        "fm": _fm,
        "hybrid": dataclasses.replace(_fm, generator_loss="fm+ns"),
    }
    recipes["best"] = recipes["hybrid"]

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam for G and for the backbone (two, C and D, under the report's protocol)."""
        d_params = list(self.model.discriminator.parameters())
        optimizers = {"d": self.adam(d_params), "g": self.adam(self.model.generator.parameters())}
        if not self.config.joint_d_update:
            optimizers["c"] = self.adam(d_params)
        return optimizers

    def ema_module(self) -> torch.nn.Module:
        """The whole model: EMA weights sample and classify at evaluation."""
        return self.model

    def fake(self, n: int) -> torch.Tensor:
        """``n`` generated images from fresh noise."""
        z = torch.randn(n, self.model.config.latent_dim, generator=self.noise, device=self.device)
        return self.model.generator(z)

    def next_batch(self) -> dict[str, torch.Tensor]:
        """Labeled images and labels, and unlabeled real images."""
        x_labeled, y = self.labeled_batch()
        x_real, _ = self.batches.next()
        return {"x_labeled": x_labeled, "y": y, "x_real": x_real}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One C/D/G update (see the class docstring)."""
        if self.config.joint_d_update:
            # One half batch of fakes serves both updates: detached for D, then for G.
            fake = self.fake(self.unlabeled_batch_size())
            metrics = self._joint_discriminator_step(batch, fake.detach())
        else:
            metrics = self._report_discriminator_steps(batch)
            fake = self.fake(self.config.batch_size)
        metrics["g"] = self._generator_step(batch["x_real"], fake)
        return metrics

    def _report_discriminator_steps(
        self, batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        d = self.model.discriminator
        c_loss = losses.classification_loss(d(batch["x_labeled"]), batch["y"])
        self.optimizer_step("c", c_loss)
        real_loss = losses.discriminator_real_loss(d(batch["x_real"]))
        self.optimizer_step("d", real_loss)
        with torch.no_grad():
            fake = self.fake(batch["x_real"].shape[0])
        fake_loss = losses.discriminator_fake_loss(d(fake))
        self.optimizer_step("d", fake_loss)
        return {"c": c_loss.detach(), "d_real": real_loss.detach(), "d_fake": fake_loss.detach()}

    def _joint_discriminator_step(
        self, batch: dict[str, torch.Tensor], fake: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        d = self.model.discriminator
        c_loss = losses.classification_loss(d(batch["x_labeled"]), batch["y"])
        real_loss = losses.discriminator_real_loss(d(batch["x_real"]))
        fake_loss = losses.discriminator_fake_loss(d(fake))
        total = c_loss + self.config.unsupervised_weight * (real_loss + fake_loss)
        self.optimizer_step("d", total)
        return {"c": c_loss.detach(), "d_real": real_loss.detach(), "d_fake": fake_loss.detach()}

    def _generator_step(self, x_real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        d = self.model.discriminator
        kind = self.config.generator_loss
        if kind == "ns":
            loss = losses.generator_loss(d(fake))
        else:
            features = d.features(fake)
            loss = losses.feature_matching_loss(d.features(x_real), features)
            if kind == "fm+ns":
                loss = loss + losses.generator_loss(d.logits_from_features(features))
        self.optimizer_step("g", loss)
        return loss.detach()
