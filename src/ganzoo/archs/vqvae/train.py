"""Training a VQ-VAE (van den Oord et al. 2017) in two stages: autoencoder, then code prior.

Stage ``autoencoder`` (:class:`VQVAETrainer`, ``ganzoo train vqvae``) trains encoder,
codebook and decoder from scratch on images: the reconstruction loss (MSE divided by the
training data's variance, or the Bernoulli NLL, as the model's config says) plus the
quantiser's codebook and commitment terms. Stage ``prior`` (:class:`PriorTrainer`,
``ganzoo train vqvae --stage prior --from runs/vq``) encodes the training set once with
the frozen autoencoder and fits a gated PixelCNN to the code grids by cross-entropy; the
model it exports is the whole VQ-VAE with its prior, so it samples.

Both stages can count their length in epochs (``epochs``): the report trains the
autoencoder for 30 epochs at batch 128, whatever the data set's size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from ganzoo.archs.vqvae.codes import CodeGridDataset
from ganzoo.archs.vqvae.metrics import vq_metrics
from ganzoo.archs.vqvae.prior import PRIOR_PRESETS, GatedPixelCNNConfig
from ganzoo.config import check_at_least, check_positive, check_range
from ganzoo.data import DeviceBatcher, ImageDataset, iterate_batches
from ganzoo.errors import GanzooError, did_you_mean
from ganzoo.io.pictures import reconstruction_panel
from ganzoo.registry import register_trainer, replace_config
from ganzoo.train.base import Trainer
from ganzoo.train.callbacks import Callback
from ganzoo.train.config import TrainConfig

__all__ = [
    "EpochTrainer",
    "PriorTrainConfig",
    "PriorTrainer",
    "VQTrainConfig",
    "VQVAETrainConfig",
    "VQVAETrainer",
    "data_variance",
    "steps_for_epochs",
]

LN2 = math.log(2.0)


@dataclass
class VQTrainConfig(TrainConfig):
    """Options both VQ-VAE stages share; the defaults are the report's optimiser and batch.

    Attributes:
        epochs: when set, the run lasts ``ceil(epochs · N / batch_size)`` steps, ``N``
            being the training set's size, and ``steps`` is replaced by that number when
            the trainer starts (the report: 30 epochs, i.e. 14,063 steps of MNIST or 11,719
            of CIFAR-10 at batch 128). ``None``: ``steps`` says. Asking for ``steps``
            explicitly (``--steps``) drops a recipe's ``epochs``.
        eval_batch_size: images per forward pass when the trainer encodes or evaluates
            (no gradients).

    """

    batch_size: int = 128
    lr: float = 1e-3
    beta1: float = 0.9
    sample_every: int = 1000
    epochs: float | None = None
    eval_batch_size: int = 500

    def validate(self) -> None:
        """Check the epochs and the evaluation batch too."""
        super().validate()
        if self.epochs is not None:
            check_positive(self, "epochs")
        check_at_least(self, "eval_batch_size", 1)


def steps_for_epochs(config: TrainConfig, size: int) -> TrainConfig:
    """``config`` with ``steps`` set from ``epochs`` for a training set of ``size`` examples.

    A config without ``epochs`` (or with ``None``) is returned as it is; otherwise a copy
    with ``steps = ceil(epochs · size / batch_size)`` and ``epochs = None``, so the saved
    run records the steps it was trained for.

    Raises:
        GanzooError: for epochs that are not a positive number.

    """
    epochs = getattr(config, "epochs", None)
    if epochs is None:
        return config
    check_positive(config, "epochs")
    check_at_least(config, "batch_size", 1)
    steps = max(1, math.ceil(epochs * size / config.batch_size))
    return replace(config, steps=steps, epochs=None)


@torch.no_grad()
def data_variance(data: ImageDataset, device: torch.device | str = "cpu") -> float:
    """Variance of every pixel value of ``data`` in ``[-1, 1]`` (float64, in chunks).

    What the MSE reconstruction loss divides by (the report, after sonnet's VQ-VAE
    example: ``np.var(train_data)``); the ``[-1, 1]`` scale gives the same ratio as
    ``[0, 1]``, since MSE and variance both grow four times.

    Raises:
        GanzooError: for an empty data set.

    """
    if len(data) == 0:
        raise GanzooError(f"data set '{data.name}' is empty; it has no variance")
    total = torch.zeros((), dtype=torch.float64, device=device)
    squares = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    for x, _ in iterate_batches(data, 2048, device):
        x = x.double()
        total += x.sum()
        squares += x.pow(2).sum()
        count += x.numel()
    mean = total / count
    return float((squares / count - mean * mean).clamp_min(0.0))


class EpochTrainer(Trainer):
    """A trainer whose config may count the run in ``epochs`` (turned into ``steps`` here)."""

    def __init__(
        self,
        model: Any,
        data: ImageDataset,
        config: TrainConfig | None = None,
        *,
        eval_data: ImageDataset | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        config = steps_for_epochs(config if config is not None else self.config_class(), len(data))
        super().__init__(model, data, config, eval_data=eval_data, callbacks=callbacks)


# ----------------------------------------------------------------------------- autoencoder
@dataclass
class VQVAETrainConfig(VQTrainConfig):
    """Options of the autoencoder stage; the defaults are the report's setting.

    Attributes:
        codebook_ema: ``None`` to learn the codebook by gradient (the report); a decay
            such as 0.99 switches the model to exponential-moving-average codebook
            updates (the paper's appendix; sets the model's ``ema_decay``).
        kmeans_init_batches: before the first step of a new run, initialise the codebook
            by k-means on the encoder's outputs of this many batches (the first batch and
            the next ones; 0: keep the random codebook).
        kmeans_iters: Lloyd iterations of that k-means (after k-means++ seeding).
        restart_every: every this many steps, move the codes whose usage average fell
            under the model's ``dead_code_threshold`` onto random encoder outputs of the
            current batch (Jukebox's restarts; 0: never).

    A run started from a checkpoint (``--init-from``) skips the k-means initialisation:
    it keeps the checkpoint's trained codebook.

    """

    codebook_ema: float | None = None
    kmeans_init_batches: int = 0
    kmeans_iters: int = 10
    restart_every: int = 0

    def validate(self) -> None:
        """Check the codebook options too."""
        super().validate()
        check_range(self, "codebook_ema", 0.0, 1.0, low_open=True, high_open=True, allow_none=True)
        for name in ("kmeans_init_batches", "kmeans_iters", "restart_every"):
            check_at_least(self, name, 0)


#: The report: Adam (lr 1e-3, Keras' betas 0.9 and 0.999), batch 128, 30 epochs.
VQVAE_REPORT = VQVAETrainConfig(epochs=30.0)
#: Recommended: the report plus an EMA codebook, k-means initialisation from the first
#: four batches and dead-code restarts every 100 steps (the fixes for unused codes of
#: the paper's appendix, Łańcucki et al. 2020 and Jukebox).
VQVAE_BEST = VQVAETrainConfig(
    epochs=30.0, codebook_ema=0.99, kmeans_init_batches=4, restart_every=100
)


@register_trainer(
    "vqvae", recipes={"report": VQVAE_REPORT, "best": VQVAE_BEST}, stage="autoencoder"
)
class VQVAETrainer(EpochTrainer):
    """Trains a VQ-VAE's encoder, codebook and decoder on images (van den Oord et al. 2017).

    One step: encode, quantise, decode; one Adam update of encoder, decoder and (unless
    the codebook is an EMA) codebook from ``reconstruction + codebook + β·commitment``.
    Before training, the model's ``data_variance`` is set from the training images (the
    MSE loss divides by it). Logged every ``log_every`` steps: the loss terms, the
    batch's codebook perplexity and used codes (and the codes restarted). ``evaluate``
    gives the test MSE, PSNR, perplexity and used codes
    (:func:`ganzoo.archs.vqvae.metrics.vq_metrics`); the sample grids show inputs above
    reconstructions above code maps.

    Args:
        model: a :class:`~ganzoo.archs.vqvae.model.VQVAE` without a prior (training the
            autoencoder would make a prior meaningless; ``model.remove_prior()``).
        data: training images.
        config: the options; ``epochs`` is turned into ``steps`` here.
        eval_data: held-out images for :meth:`evaluate` and the pictures.
        callbacks: extra callbacks.

    """

    config_class = VQVAETrainConfig
    config: VQVAETrainConfig

    @classmethod
    def model_overrides(cls, config: VQVAETrainConfig) -> dict[str, Any]:
        """Model config fields a run with ``config`` needs (its codebook's EMA decay).

        ``ganzoo train`` builds the model with them, so a resumed run names the same model.
        """
        return {} if config.codebook_ema is None else {"ema_decay": config.codebook_ema}

    def setup(self) -> None:
        """Switch to an EMA codebook if asked, set the data variance, prepare the batches."""
        model, cfg = self.model, self.config
        if getattr(model, "quantizer", None) is None:
            raise GanzooError(f"{type(self).__name__} trains VQ-VAEs; got {type(model).__name__}")
        if model.prior is not None:
            raise GanzooError(
                "this VQ-VAE has a prior over its codes, which training the autoencoder would "
                "make meaningless; call model.remove_prior() first, or train the prior stage"
            )
        if cfg.codebook_ema is not None:
            model.use_ema_codebook(cfg.codebook_ema)
        super().setup()
        #: Draws k-means++ seeds and the encoder outputs dead codes restart on.
        self.codebook_rng = self.make_generator("codebook")
        if model.config.reconstruction == "mse":
            model.data_variance.fill_(data_variance(self.data, self.device))
        #: Codes restarted so far by this trainer (dead-code restarts).
        self.restarted_codes = 0

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam for encoder, decoder and a gradient-trained codebook."""
        model = self.model
        params = [
            *model.encoder.parameters(),
            *model.quantizer.parameters(),  # none with an EMA codebook
            *model.decoder.parameters(),
        ]
        return {"vqvae": self.adam(params)}

    def _kmeans_init(self, first: torch.Tensor) -> None:
        """k-means codebook from the encoder's outputs of the first batches of a new run."""
        cfg = self.config
        with torch.no_grad():
            batches = [first] + [self.batches.next()[0] for _ in range(cfg.kmeans_init_batches - 1)]
            z_e = torch.cat([self.model.encoder(x) for x in batches])
            self.model.quantizer.init_from(z_e, iters=cfg.kmeans_iters, generator=self.codebook_rng)

    def train_step(self, batch: tuple[torch.Tensor, Any]) -> dict[str, torch.Tensor]:
        """One update of the autoencoder; dead codes restarted every ``restart_every`` steps."""
        x, _ = batch
        cfg = self.config
        # a new run from scratch: resumes start later, and a run started from a
        # checkpoint (``init_from``) keeps the codebook it was given
        if self.step == 0 and cfg.kmeans_init_batches > 0 and self.init_source is None:
            self._kmeans_init(x)
        out = self.model(x)
        self.optimizer_step("vqvae", out.loss)
        metrics = {
            "loss": out.loss.detach(),
            "reconstruction": out.reconstruction_loss.detach(),
            "codebook": out.vq.codebook_loss.detach(),
            "commitment": out.vq.commitment_loss.detach(),
            "perplexity": out.vq.perplexity.detach(),
            "used_codes": out.vq.used_codes.detach(),
        }
        if cfg.restart_every > 0:
            restarted = 0
            if (self.step + 1) % cfg.restart_every == 0:
                restarted = self.model.quantizer.restart_dead_codes(
                    out.z_e, generator=self.codebook_rng
                )
                self.restarted_codes += restarted
            metrics["restarted"] = torch.full((), float(restarted), device=self.device)
        return metrics

    def evaluate(self) -> dict[str, float]:
        """Test MSE, PSNR, codebook perplexity and used codes on ``eval_data``."""
        return vq_metrics(self.model, self.eval_data, self.config.eval_batch_size)

    def sample_images(self, n: int, seed: int = 0) -> torch.Tensor | None:
        """Inputs above reconstructions above code maps: ``isqrt(n)`` held-out images.

        The images are the first ones of ``eval_data`` (else of the training set), the
        same at every step; see :func:`ganzoo.io.pictures.reconstruction_panel`.
        """
        source = self.eval_data if self.eval_data is not None else self.data
        k = max(1, min(math.isqrt(n), len(source)))
        images, _ = next(iterate_batches(source, k, self.device))
        with self.ema_weights():
            return reconstruction_panel(self.model, images)


# ----------------------------------------------------------------------------- prior
@dataclass
class PriorTrainConfig(VQTrainConfig):
    """Options of the prior stage: a gated PixelCNN fitted to the frozen VQ-VAE's codes.

    Attributes:
        prior_preset: a key of :data:`ganzoo.archs.vqvae.prior.PRIOR_PRESETS` (``mnist``,
            ``cifar10``) sizing a new prior (its ``num_codes`` becomes the codebook's);
            ``None``: the preset of the model's data set (see
            :meth:`~ganzoo.archs.vqvae.model.VQVAE.default_prior_config`).
        prior: fields of :class:`~ganzoo.archs.vqvae.prior.GatedPixelCNNConfig` to change from
            that preset, e.g. ``{"num_layers": 6}`` (``num_codes`` is the codebook's).
            When neither is given and the model already has a prior, that prior is
            trained further; when given, they must describe it.

    """

    epochs: float | None = 20.0
    prior_preset: str | None = None
    prior: dict[str, Any] | None = None

    def validate(self) -> None:
        """Check the prior's preset and fields too."""
        super().validate()
        if self.prior_preset is not None and self.prior_preset not in PRIOR_PRESETS:
            raise GanzooError(
                f"no prior preset '{self.prior_preset}'"
                f"{did_you_mean(self.prior_preset, PRIOR_PRESETS)}; presets: "
                f"{', '.join(PRIOR_PRESETS)}"
            )
        if self.prior is not None:
            if "num_codes" in self.prior:
                raise GanzooError(
                    "prior.num_codes is the codebook's size; leave it out of the prior options"
                )
            replace_config(GatedPixelCNNConfig(), **self.prior)  # types, then ranges


#: A prior of the model's data set's preset, Adam 1e-3, batch 128, 20 epochs of codes.
PRIOR_DEFAULT = PriorTrainConfig()


@register_trainer(
    "vqvae",
    recipes={"default": PRIOR_DEFAULT},
    default_recipe="default",
    stage="prior",
    from_stage="autoencoder",
)
class PriorTrainer(EpochTrainer):
    """Fits a VQ-VAE's prior, a gated PixelCNN, to its code grids; the autoencoder is frozen.

    The training set is encoded once (in batches, without gradients, in eval mode) into a
    :class:`~ganzoo.archs.vqvae.codes.CodeGridDataset` kept on the device, after any checkpoint is
    restored; one step is an Adam update of the prior from the cross-entropy of a random
    batch of code grids (logged as ``nll`` in nats and ``bits_per_dim``). ``evaluate``
    gives the prior's test NLL in bits per code (``prior_bits_per_dim``) beside the
    autoencoder's test metrics; the sample grids are samples. Only the prior's weights
    change: the encoder, codebook and decoder are those of the model given.

    Args:
        model: a trained :class:`~ganzoo.archs.vqvae.model.VQVAE`; a prior is attached when
            it has none (sized by ``prior_preset`` and ``prior``).
        data: training images (encoded to codes).
        config: the options; ``epochs`` is turned into ``steps`` here.
        eval_data: held-out images for :meth:`evaluate`.
        callbacks: extra callbacks.

    """

    config_class = PriorTrainConfig
    config: PriorTrainConfig

    def requested_prior(self) -> GatedPixelCNNConfig | None:
        """The prior the options ask for, or ``None`` when they name none."""
        cfg, model = self.config, self.model
        if cfg.prior_preset is None and cfg.prior is None:
            return None
        if cfg.prior_preset is not None:
            base = replace(PRIOR_PRESETS[cfg.prior_preset], num_codes=model.config.num_codes)
        else:
            base = model.default_prior_config()
        return replace_config(base, **(cfg.prior or {}))

    def setup(self) -> None:
        """Attach the prior (if the model has none) and prepare the code batches' generator."""
        model = self.model
        if getattr(model, "quantizer", None) is None or not hasattr(model, "attach_prior"):
            raise GanzooError(
                f"{type(self).__name__} trains VQ-VAE priors; got {type(model).__name__}"
            )
        requested = self.requested_prior()
        if model.prior is None:
            prior = model.attach_prior(requested)
            if self.config.channels_last:
                prior.to(memory_format=torch.channels_last)
        elif requested is not None and requested != model.config.prior:
            raise GanzooError(
                f"the model already has a prior ({model.config.prior}), not the one the prior "
                "options describe; drop prior_preset/prior to train it further"
            )
        #: Draws the code batches (checkpointed like every generator).
        self.code_rng = self.make_generator("codes")
        self._codes: DeviceBatcher | None = None

    @property
    def code_batches(self) -> DeviceBatcher:
        """Random batches of the training set's code grids, encoded on first use.

        First use is the first step, after a resume has put the checkpoint's weights back,
        so the codes always come from the autoencoder being trained on.
        """
        if self._codes is None:
            codes = CodeGridDataset.encode(
                self.model, self.data, self.config.eval_batch_size, self.device
            )
            self._codes = DeviceBatcher(
                codes, self.config.batch_size, self.device, generator=self.code_rng
            )
        return self._codes

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam for the prior alone."""
        return {"prior": self.adam(self.model.prior.parameters())}

    def ema_module(self) -> torch.nn.Module:
        """The prior."""
        return self.model.prior

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A random batch of code grids and their images' labels."""
        return self.code_batches.next()

    def train_step(self, batch: tuple[torch.Tensor, Any]) -> dict[str, torch.Tensor]:
        """One update of the prior by cross-entropy on the code grids."""
        codes, _ = batch
        nll = self.model.prior.nll(codes)
        self.optimizer_step("prior", nll)
        nll = nll.detach()
        return {"nll": nll, "bits_per_dim": nll / LN2}

    def evaluate(self) -> dict[str, float]:
        """The prior's test NLL in bits per code, with the autoencoder's test metrics."""
        return vq_metrics(self.model, self.eval_data, self.config.eval_batch_size)
