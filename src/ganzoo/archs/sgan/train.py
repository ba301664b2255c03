"""Training the SGAN (Odena 2016; Salimans et al. 2016): the report's protocol, feature matching."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ganzoo import losses
from ganzoo.archs.sgan.augment import (
    elastic_displacement,
    random_affine,
    random_erase,
    random_translate,
)
from ganzoo.archs.sgan.conditional import class_order_labels
from ganzoo.archs.sgan.labeled import LabeledConfig, attach_labeled
from ganzoo.config import check_at_least, check_choice, check_positive, check_range
from ganzoo.errors import GanzooError
from ganzoo.nn.init import data_dependent_init_
from ganzoo.registry import register_trainer
from ganzoo.train.gan import GANTrainConfig, GANTrainer
from ganzoo.train.optim import make_optimizer

#: Options of :class:`GANTrainConfig` the SGAN takes only at one value, and why.
_SGAN_FIXED: dict[str, tuple[object, str]] = {
    "loss": ("bce", "its real/fake logit is the logsumexp of the class logits"),
    "n_critic": (1, "one discriminator update per step"),
    "clip": (0.0, "no weight clipping of the classifier"),
    "diffaugment": ("", "augment the labeled images with augment_shift or labeled_view"),
    "instance_noise_decay": (0.0, "its discriminator has no instance noise"),
}


@dataclass
class SGANTrainConfig(GANTrainConfig, LabeledConfig):
    """SGAN options; the defaults are the report's protocol.

    The GAN trainer's options come with it: ``d_optimizer``, ``g_optimizer``, ``d_lr``
    and ``g_lr`` choose the backbone's (D's and, under the report's protocol, C's) and
    the generator's optimisers; the others take one value only.

    Attributes:
        loss: only ``"bce"``: the SGAN's D scores real against fake by the logsumexp of
            its class logits.
        n_critic: only 1 (one discriminator update per step).
        clip: only 0 (no weight clipping).
        diffaugment: only ``""``: the labeled images have ``augment_shift`` and
            ``labeled_view``, the unlabeled ones the strong view.
        instance_noise_decay: only 0 (the SGAN's discriminator has no instance noise).
        gp_weight: unused (there is no gradient penalty with ``"bce"``).
        d_optimizer: the backbone's optimiser (D's, and C's under the report's protocol):
            ``"adam"`` or ``"rmsprop"``.
        d_lr: the backbone's learning rate (``None``: ``lr``).
        generator_loss: ``"ns"`` (the report: non-saturating, fakes labeled 1 through D),
            ``"fm"`` (feature matching, Salimans et al. 2016: match the mean of D's last
            convolutional features on real and generated batches; best for classification,
            poorer samples) or ``"fm+ns"`` (their sum).
        joint_d_update: one update of the shared backbone on
            ``CE(labeled) + BCE(real) + BCE(fake)`` (Salimans et al.) instead of the report's
            three separate updates (C, D on real, D on fake), each with its own Adam.
        unsupervised_weight: weight of the real/fake loss in the joint update.
        consistency_weight: weight of a confidence-masked pseudo-label loss on the
            unlabeled real images (FixMatch, Sohn et al. 2020): the classifier's confident
            prediction on a weakly augmented view (±``augment_shift`` px) is the target
            on a strongly augmented view (rotation, scaling, shift, optionally an
            elastic distortion, cutout). 0: off (the report). Needs ``joint_d_update``.
        consistency_threshold: softmax confidence a pseudo-label needs.
        entropy_weight: weight of the class posterior's entropy on D's unlabeled real
            images in the joint update (entropy minimisation, as in Dai et al. 2017's
            "Bad GAN"). 0: off.
        class_balance_weight: weight of the entropy of the mean class posterior on D's
            unlabeled real batch, maximised (Krause et al. 2010; CatGAN, Springenberg
            2016), meant to keep entropy minimisation and pseudo-labels from merging two
            classes into one. 0: off. On MNIST at 25 labels it rescued one seed of three
            and made another worse; at 100 labels it changed nothing (see the docs).
        consistency_batch: unlabeled images per step for the pseudo-label loss, drawn
            apart from D's real batch (FixMatch's μ·B: 7 unlabeled per labeled image).
            0: reuse D's real half batch. It costs less than its size suggests: 350
            instead of 50 took 1.4× the time per step on a 2-core CPU.
        strong_degrees: rotation range of the strong view, in degrees.
        strong_scale: scaling range of the strong view is ``1 ± strong_scale``.
        strong_shift: shift range of the strong view, in pixels.
        strong_cutout: side of the square erased from the strong view (0: none).
        strong_elastic: elastic distortion of the strong view (Simard et al. 2003): the
            scale ``alpha`` of its displacement field, in pixels (34 in the paper;
            0: none).
        strong_elastic_sigma: smoothness of that field: its Gaussian's ``sigma``, in pixels.
        labeled_view: augmentation of the labeled images: ``"weak"`` (±``augment_shift``
            px) or ``"strong"`` (the strong view above).
        pseudo_label_teacher: who labels the weak view: ``"model"`` (FixMatch: the
            classifier being trained, without dropout) or ``"ema"`` (its weight average,
            as in Mean Teacher; needs ``ema_decay``).
        data_init: data-dependent initialisation of D (Salimans & Kingma 2016): every
            layer rescaled so its outputs on 500 real images are standardised.
        class_weight: weight of the class term of G's loss, which makes a conditional
            generator draw the class it is asked for: the classifier's cross-entropy
            ``CE(l(G(z, y)), y)`` on the generated images, each against the class ``y``
            it was drawn with (``y`` uniform), as AC-GAN (Odena et al. 2017) trains its
            generator with its discriminator's classifier. With ``generator_loss="ns"``
            the sum ``-log D(G) + CE`` is the (K+1)-class cross-entropy of "real digit
            y". D's own loss is unchanged. Needs a conditional generator (the model's
            ``conditional``, which ``ganzoo train`` sets when this is above 0); 0: off.

    """

    # The loop's defaults, not the GAN trainer's (the report: 600 steps of 100 images).
    steps: int = 600
    batch_size: int = 100
    sample_every: int = 200
    eval_every: int = 100
    generator_loss: str = "ns"
    joint_d_update: bool = False
    unsupervised_weight: float = 1.0
    consistency_weight: float = 0.0
    consistency_threshold: float = 0.95
    consistency_batch: int = 0
    entropy_weight: float = 0.0
    class_balance_weight: float = 0.0
    strong_degrees: float = 15.0
    strong_scale: float = 0.15
    strong_shift: float = 3.0
    strong_cutout: int = 10
    strong_elastic: float = 0.0
    strong_elastic_sigma: float = 4.0
    labeled_view: str = "weak"
    pseudo_label_teacher: str = "model"
    data_init: bool = False
    class_weight: float = 0.0

    def validate(self) -> None:
        """Check the generator loss choice too, and the GAN options the SGAN does not vary."""
        super().validate()
        for name, (value, why) in _SGAN_FIXED.items():
            if getattr(self, name) != value:
                raise GanzooError(
                    f"sgan takes only {name}={value!r} ({why}), got {getattr(self, name)!r}"
                )
        check_choice(self, "generator_loss", ("ns", "fm", "fm+ns"))
        for name in (
            "unsupervised_weight",
            "consistency_weight",
            "entropy_weight",
            "class_balance_weight",
            "consistency_batch",
            "strong_degrees",
            "strong_shift",
            "strong_cutout",
            "strong_elastic",
            "class_weight",
        ):
            check_at_least(self, name, 0)
        check_positive(self, "strong_elastic_sigma")
        check_range(self, "strong_scale", 0.0, 1.0, high_open=True)
        # Extra terms of the joint update: the report's separate updates have no place for them.
        for name in ("consistency_weight", "entropy_weight", "class_balance_weight"):
            if getattr(self, name) > 0 and not self.joint_d_update:
                raise GanzooError(
                    f"{name} needs joint_d_update=true (the report's protocol has none)"
                )
        if self.consistency_batch > 0 and self.consistency_weight == 0:
            raise GanzooError("consistency_batch needs consistency_weight > 0 (e.g. 1.0)")
        check_choice(self, "labeled_view", ("weak", "strong"))
        check_choice(self, "pseudo_label_teacher", ("model", "ema"))
        if self.pseudo_label_teacher == "ema" and not self.ema_decay:
            raise GanzooError("pseudo_label_teacher='ema' needs ema_decay (e.g. 0.999)")
        if not 0.0 < self.consistency_threshold <= 1.0:
            raise GanzooError(
                f"consistency_threshold must be in (0, 1], got {self.consistency_threshold}"
            )


_FM = SGANTrainConfig(
    steps=6000,
    generator_loss="fm",
    joint_d_update=True,
    augment_shift=2,
    ema_decay=0.999,
    eval_every=500,
    sample_every=1000,
    lr=3e-4,
)
SGAN_RECIPES = {
    "report": SGANTrainConfig(),
    "fm": _FM,
    "hybrid": dataclasses.replace(_FM, generator_loss="fm+ns"),
}
SGAN_RECIPES["consistency"] = dataclasses.replace(
    SGAN_RECIPES["hybrid"], steps=7000, consistency_weight=1.0, lr_decay_start=0.5
)
SGAN_RECIPES["entropy"] = dataclasses.replace(
    SGAN_RECIPES["consistency"], lr=6e-4, entropy_weight=1.0
)
SGAN_RECIPES["best"] = dataclasses.replace(SGAN_RECIPES["entropy"], lr=1e-3)
SGAN_RECIPES["conditional"] = dataclasses.replace(SGAN_RECIPES["best"], class_weight=1.0)


@register_trainer("sgan", recipes=SGAN_RECIPES)
class SGANTrainer(GANTrainer):
    """SGAN training: the GAN trainer plus labeled data, one step per call of :meth:`train_step`.

    From :class:`~ganzoo.train.gan.GANTrainer` it takes the generator's side:
    :meth:`fake`, the non-saturating :meth:`generator_loss` (through D's real/fake
    logit, the logsumexp of its class logits), and the optimisers chosen by name. The
    labeled subset, its batches and the test accuracy are a
    :class:`~ganzoo.archs.sgan.labeled.LabeledData` component, ``labeled``.

    ``report`` recipe (the report's Keras protocol, half batches of 50): update C on
    labeled images; update D on 50 real images (label 1), then on 50 generated ones
    (label 0); update G on 100 fakes labeled 1 through the unchanged D. C and D share
    the backbone but, as in Keras, each has its own Adam (2e-4, β1 0.5).

    ``fm`` recipe (Salimans et al.): one joint backbone update on half batches (50
    labeled, 50 real, 50 generated, the fakes reused for G), feature matching for G,
    ±2-pixel translations of the labeled images, an EMA of all weights and a longer
    schedule. ``hybrid`` is the same with G on feature matching plus the non-saturating
    loss, which keeps the samples recognisable. ``consistency`` adds FixMatch's
    pseudo-label loss on the unlabeled images and a linear learning-rate decay over the
    second half. ``entropy`` is ``consistency`` with a learning rate of 6e-4 and entropy
    minimisation on the unlabeled images; ``best`` is ``entropy`` with a learning rate
    of 1e-3. ``conditional`` is ``best`` with a conditional generator trained with the
    class term (``class_weight`` 1): ``sample(n, labels=...)`` then draws the asked
    digits.
    """

    config_class = SGANTrainConfig

    @classmethod
    def model_overrides(cls, config: SGANTrainConfig) -> dict[str, Any]:
        """Model config fields a run with ``config`` needs (``class_weight > 0``: conditional).

        ``ganzoo train`` builds the model with them, so a resumed run names the same model.
        """
        return {"conditional": True} if config.class_weight > 0 else {}

    def setup(self) -> None:
        """Labeled and unlabeled data on the device; optionally data-dependent init of D.

        Replaces :meth:`GANTrainer.setup` (whose ``"data"`` and ``"penalty"`` generators the
        SGAN does not use): the generators are ``"labeled"``, ``"augment"`` (shared by every
        augmentation), ``"unlabeled"`` and, with ``consistency_batch``, ``"consistency"``,
        created in that order, as the seeds and checkpoints of earlier runs expect.
        """
        cfg = self.config
        self._check_conditional()
        attach_labeled(self, cfg)
        self.augment_rng = self.labeled.augment_rng
        self.batches = self.make_batcher(self.data, self.unlabeled_batch_size(), "unlabeled")
        self.setup_objective()
        self.setup_evaluation()
        self.consistency_batches = None
        if cfg.consistency_batch > 0:  # validate() made sure the loss is on
            self.consistency_batches = self.make_batcher(
                self.data, cfg.consistency_batch, "consistency"
            )
        if cfg.data_init:
            batch = torch.cat([self.batches.next()[0] for _ in range(10)])
            data_dependent_init_(self.model.discriminator, batch)

    def _check_conditional(self) -> None:
        conditional = bool(getattr(self.model, "conditional", False))
        if self.config.class_weight > 0 and not conditional:
            raise GanzooError(
                "class_weight needs a conditional generator: build the model with "
                "conditional=True (create_model('sgan', conditional=True); ganzoo train sets "
                "it), or set class_weight=0"
            )
        if conditional and self.config.class_weight == 0:
            raise GanzooError(
                "this SGAN's generator is conditional but class_weight is 0, so nothing would "
                "teach it the classes; use --recipe conditional or --set class_weight=1"
            )

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The GAN trainer's D and G optimisers; under the report's protocol a second for C.

        C's optimiser is of D's kind, over the same backbone parameters, with its own state
        (as the report's Keras models each had their own Adam).
        """
        optimizers = super().configure_optimizers()
        if not self.config.joint_d_update:
            cfg = self.config
            optimizers["c"] = make_optimizer(
                cfg.d_optimizer,
                self.model.discriminator.parameters(),
                cfg.d_lr or cfg.lr,
                (cfg.beta1, cfg.beta2),
                self.device,
            )
        return optimizers

    def ema_module(self) -> torch.nn.Module:
        """The whole model: EMA weights sample and classify at evaluation."""
        return self.model

    def sample_images(self, n: int, seed: int = 0) -> torch.Tensor | None:
        """Images for sample grids; a conditional generator's in class order.

        Classes take equal consecutive blocks (of a 10×10 grid of ten classes, one row
        each), so a grid shows whether each row is its digit.
        """
        labels = class_order_labels(self.model, n)
        if labels is None:
            return super().sample_images(n, seed)
        with self.ema_weights(), torch.no_grad():
            return self.model.sample(n, seed=seed, device=self.device, labels=labels)

    def real_fake_scores(self, x: torch.Tensor) -> torch.Tensor:
        """D's real/fake logit of each image: the logsumexp of its class logits."""
        return losses.real_fake_logit(self.model.discriminator(x))

    def unlabeled_batch_size(self) -> int:
        """Unlabeled (real) images per step: half the batch."""
        return self.config.batch_size // 2

    def data_fingerprint(self) -> dict[str, Any]:
        """The data set's fingerprint plus a hash of the labeled subset's indices."""
        return {**super().data_fingerprint(), **self.labeled.fingerprint()}

    def evaluate(self) -> dict[str, float]:
        """Accuracy of ``model.classify`` on ``eval_data``, and FID/KID with ``eval_metrics``.

        The confusion matrix of the latest evaluation is kept in ``last_confusion``.
        """
        results, self.last_confusion = self.labeled.evaluate(self.model, self.eval_data)
        return {**results, **super().evaluate()}

    def next_batch(self) -> dict[str, torch.Tensor]:
        """Labeled images and labels, unlabeled real images (for D and for pseudo-labels)."""
        x_labeled, y = self.labeled_batch()
        x_real, _ = self.batches.next()
        batch = {"x_labeled": x_labeled, "y": y, "x_real": x_real, "x_unlabeled": x_real}
        if self.consistency_batches is not None:
            batch["x_unlabeled"] = self.consistency_batches.next()[0]
        return batch

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One C/D/G update (see the class docstring)."""
        if self.config.joint_d_update:
            # One half batch of fakes serves both updates: detached for D, then for G.
            fake, labels = self.fake_with_labels(self.unlabeled_batch_size())
            metrics = self._joint_discriminator_step(batch, fake.detach())
        else:
            metrics = self._report_discriminator_steps(batch)
            fake, labels = self.fake_with_labels(self.config.batch_size)
        metrics["g"] = self._generator_step(batch["x_real"], fake, labels, metrics)
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
        d, cfg = self.model.discriminator, self.config
        parts = [batch["x_labeled"], batch["x_real"], fake]
        if cfg.consistency_weight > 0:
            parts.append(self._strong_view(batch["x_unlabeled"]))
        # No batch statistics in D, so one forward over all parts equals one per part
        # (and launches a quarter of the kernels).
        logits = d(torch.cat(parts)).split([p.shape[0] for p in parts])
        c_loss = losses.classification_loss(logits[0], batch["y"])
        real_loss = losses.discriminator_real_loss(logits[1])
        fake_loss = losses.discriminator_fake_loss(logits[2])
        total = c_loss + cfg.unsupervised_weight * (real_loss + fake_loss)
        metrics = {"c": c_loss.detach(), "d_real": real_loss.detach(), "d_fake": fake_loss.detach()}
        if cfg.entropy_weight > 0:
            entropy = losses.conditional_entropy(logits[1])
            total = total + cfg.entropy_weight * entropy
            metrics["entropy"] = entropy.detach()
        if cfg.class_balance_weight > 0:
            balance = losses.marginal_entropy(logits[1])
            total = total - cfg.class_balance_weight * balance
            metrics["balance"] = balance.detach()
        if cfg.consistency_weight > 0:
            with torch.no_grad():
                weak = random_translate(batch["x_unlabeled"], cfg.augment_shift, self.augment_rng)
                teacher = self._teacher()
                teacher_logits = teacher.head(teacher.features(weak))  # no dropout
            consistency, confident = losses.pseudo_label_loss(
                logits[3], teacher_logits, cfg.consistency_threshold
            )
            total = total + cfg.consistency_weight * consistency
            metrics.update(consistency=consistency.detach(), confident=confident)
        self.optimizer_step("d", total)
        return metrics

    def labeled_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next labeled images in the weak view (a shift) or, if asked, the strong one."""
        if self.config.labeled_view == "strong":
            x, y = self.labeled.batches.next()
            return self._strong_view(x), y
        return self.labeled.next()

    def _teacher(self) -> torch.nn.Module:
        if self.config.pseudo_label_teacher == "ema" and self.ema is not None:
            return self.ema.module.discriminator  # in eval mode: no noise either
        return self.model.discriminator

    def _strong_view(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        # The elastic field joins the affine grid: one resampling of each image.
        displacement = elastic_displacement(
            x.shape, cfg.strong_elastic, cfg.strong_elastic_sigma, self.augment_rng, x.device
        )
        x = random_affine(
            x,
            cfg.strong_degrees,
            (1.0 - cfg.strong_scale, 1.0 + cfg.strong_scale),
            cfg.strong_shift,
            self.augment_rng,
            displacement=displacement,
        )
        return random_erase(x, cfg.strong_cutout, self.augment_rng)

    def generator_objective(
        self, x_real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's loss on ``fake`` (``generator_loss``) plus, with ``labels``, the class term.

        Args:
            x_real: real images (feature matching's target).
            fake: generated images, still attached to G's graph.
            labels: the classes a conditional generator drew ``fake`` with.

        Returns:
            The loss and what to log of the class term: ``g_class`` (the classifier's
            cross-entropy of the fakes against ``labels``, before ``class_weight``) and
            ``g_agree`` (the share of fakes whose top class is their label).

        """
        d, cfg = self.model.discriminator, self.config
        kind = cfg.generator_loss
        logits = None
        if kind == "ns":
            logits = d(fake)
            loss = self.loss.generator(losses.real_fake_logit(logits))
        else:
            with torch.no_grad():  # the real side is the target: no graph to keep
                real_features = d.features(x_real)
            features = d.features(fake)
            loss = losses.feature_matching_loss(real_features, features)
            if kind == "fm+ns" or labels is not None:
                logits = d.logits_from_features(features)
            if kind == "fm+ns":
                loss = loss + self.loss.generator(losses.real_fake_logit(logits))
        metrics: dict[str, torch.Tensor] = {}
        if labels is not None and cfg.class_weight > 0:
            class_loss = losses.classification_loss(logits, labels)
            loss = loss + cfg.class_weight * class_loss
            metrics["g_class"] = class_loss.detach()
            metrics["g_agree"] = (logits.detach().argmax(dim=1) == labels).float().mean()
        return loss, metrics

    def _generator_step(
        self,
        x_real: torch.Tensor,
        fake: torch.Tensor,
        labels: torch.Tensor | None = None,
        metrics: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        loss, extra = self.generator_objective(x_real, fake, labels)
        self.optimizer_step("g", loss)
        if metrics is not None:
            metrics.update(extra)
        return loss.detach()
