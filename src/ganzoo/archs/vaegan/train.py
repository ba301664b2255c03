"""Training the VAE-GAN (Larsen et al. 2016) with the SGAN's discriminator/classifier."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ganzoo import losses
from ganzoo.archs.sgan.labeled import LabeledConfig, attach_labeled
from ganzoo.config import check_at_least, check_positive
from ganzoo.errors import GanzooError
from ganzoo.registry import register_trainer
from ganzoo.train.base import Trainer


@dataclass
class VAEGANTrainConfig(LabeledConfig):
    """VAE-GAN options; the defaults are the report's setting.

    Attributes:
        likelihood: ``"pixel"`` (the report: Gaussian likelihood of pixels) or
            ``"features"`` (Larsen et al.: of the discriminator's last convolutional features).
        gamma: weight of the likelihood against the GAN loss in the decoder's loss.
        kl_weight: weight of the KL prior term in the encoder's loss.
        discriminator_fakes: what D and the decoder's GAN loss see as generated images:
            ``"both"`` (Larsen et al.: reconstructions and prior samples) or ``"prior"``
            (only decoded prior samples, like the SGAN generator's fakes).
        class_weight: weight of CatGAN's generator terms (Springenberg 2016) in the
            decoder's loss, on its decoded prior samples as the classifier head reads
            them: the mean entropy of the class posterior, minimised (each sample one
            digit, read without doubt), minus the entropy of the mean posterior,
            maximised (every digit as often). 0: off (the report).
        vae_lr: learning rate of the encoder and decoder (``None``: ``lr``, the report's
            single rate). The report's 2e-4 is slow for the VAE: the decoder is still near
            the mean image when the GAN term starts to pull it onto one digit.

    """

    likelihood: str = "pixel"
    gamma: float = 1.0
    kl_weight: float = 1.0
    discriminator_fakes: str = "both"
    class_weight: float = 0.0
    vae_lr: float | None = None

    def validate(self) -> None:
        """Check the likelihood choice too."""
        super().validate()
        check_at_least(self, "gamma", 0)
        check_at_least(self, "kl_weight", 0)
        check_at_least(self, "class_weight", 0)
        if self.vae_lr is not None:
            check_positive(self, "vae_lr")
        if self.likelihood not in ("pixel", "features"):
            raise GanzooError(f"likelihood must be 'pixel' or 'features', got '{self.likelihood}'")
        if self.discriminator_fakes not in ("both", "prior"):
            raise GanzooError(
                f"discriminator_fakes must be 'both' or 'prior', got '{self.discriminator_fakes}'"
            )


VAEGAN_RECIPES = {
    "report": VAEGANTrainConfig(),
    "features": VAEGANTrainConfig(likelihood="features"),
    "best": VAEGANTrainConfig(
        steps=3000, augment_shift=2, ema_decay=0.999, eval_every=500, sample_every=1000
    ),
}
# For the `wide` preset: a VAE fast enough to learn the digits before the GAN term
# bites (vae_lr), a decoder weighted towards fooling D (gamma 0.1) and CatGAN's terms
# on its prior samples; see the MNIST page's "VAE-GAN: why the samples collapsed".
VAEGAN_RECIPES["samples"] = dataclasses.replace(
    VAEGAN_RECIPES["best"], vae_lr=1e-3, gamma=0.1, class_weight=3.0
)
VAEGAN_RECIPES["samples-features"] = dataclasses.replace(
    VAEGAN_RECIPES["samples"], likelihood="features"
)


@register_trainer("vaegan", recipes=VAEGAN_RECIPES)
class VAEGANTrainer(Trainer):
    """VAE-GAN training with the SGAN's classifier head (Larsen et al. 2016).

    One step: C on labeled images; D on real, reconstructed and prior-sampled images;
    then the encoder on ``L_prior + L_llike`` and the decoder on ``γ·L_llike − L_GAN``
    (non-saturating), each network with its own Adam and only its own gradients. The
    labeled subset, its batches and the test accuracy are the ``labeled`` component.
    """

    config_class = VAEGANTrainConfig
    config: VAEGANTrainConfig

    def setup(self) -> None:
        """The labeled subset and the unlabeled images (half batches) on the device."""
        attach_labeled(self, self.config)
        self.batches = self.make_batcher(self.data, self.config.batch_size // 2, "unlabeled")

    def data_fingerprint(self) -> dict[str, Any]:
        """The data set's fingerprint plus a hash of the labeled subset's indices."""
        return {**super().data_fingerprint(), **self.labeled.fingerprint()}

    def evaluate(self) -> dict[str, float]:
        """Accuracy of ``model.classify`` on ``eval_data``; its confusion in ``last_confusion``."""
        results, self.last_confusion = self.labeled.evaluate(self.model, self.eval_data)
        return results

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam for C and D (sharing the backbone), the encoder and the decoder (``vae_lr``)."""
        d_params = list(self.model.discriminator.parameters())
        return {
            "c": self.adam(d_params),
            "d": self.adam(d_params),
            "enc": self.adam(self.model.encoder.parameters(), lr=self.config.vae_lr),
            "dec": self.adam(self.model.decoder.parameters(), lr=self.config.vae_lr),
        }

    def ema_module(self) -> torch.nn.Module:
        """The whole model."""
        return self.model

    def next_batch(self) -> dict[str, torch.Tensor]:
        """Labeled images and labels, and unlabeled real images."""
        x_labeled, y = self.labeled.next()
        x_real, _ = self.batches.next()
        return {"x_labeled": x_labeled, "y": y, "x_real": x_real}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One C, D, encoder and decoder update."""
        model, d, x = self.model, self.model.discriminator, batch["x_real"]
        c_loss = losses.classification_loss(d(batch["x_labeled"]), batch["y"])
        self.optimizer_step("c", c_loss)

        mu, log_sigma = model.encoder(x)
        z = losses.reparameterize(mu, log_sigma, generator=self.noise)
        z_prior = torch.randn(z.shape, generator=self.noise, device=self.device)
        x_rec, x_prior = model.decoder(z), model.decoder(z_prior)

        with_rec = self.config.discriminator_fakes == "both"
        d_loss = losses.discriminator_real_loss(d(x)) + losses.discriminator_fake_loss(
            d(x_prior.detach())
        )
        if with_rec:
            d_loss = d_loss + losses.discriminator_fake_loss(d(x_rec.detach()))
        self.optimizer_step("d", d_loss)

        if self.config.likelihood == "features":
            llike = losses.gaussian_nll(d.features(x).detach(), d.features(x_rec))
        else:
            llike = losses.gaussian_nll(x, x_rec)
        kl = losses.kl_to_standard_normal(mu, log_sigma)
        prior_logits = d(x_prior)
        gan = losses.generator_loss(prior_logits)
        if with_rec:
            gan = gan + losses.generator_loss(d(x_rec))
        decoder_loss = self.config.gamma * llike + gan
        logs = {}
        if self.config.class_weight > 0:
            confident = losses.conditional_entropy(prior_logits)
            spread = losses.marginal_entropy(prior_logits)
            decoder_loss = decoder_loss + self.config.class_weight * (confident - spread)
            logs = {"prior_entropy": confident.detach(), "prior_spread": spread.detach()}
        self.optimizer_step("enc", self.config.kl_weight * kl + llike, retain_graph=True)
        self.optimizer_step("dec", decoder_loss)
        return {
            "c": c_loss.detach(),
            "d": d_loss.detach(),
            "kl": kl.detach(),
            "llike": llike.detach(),
            "g": gan.detach(),
            **logs,
        }
