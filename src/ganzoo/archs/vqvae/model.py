"""VQ-VAE (van den Oord et al. 2017, "Neural Discrete Representation Learning").

A convolutional encoder maps an image to a grid of ``d``-dimensional vectors ``z_e``;
a :class:`~ganzoo.archs.vqvae.quantizer.VectorQuantizer` replaces each by the nearest of
``K`` codes;
a transposed-convolution decoder maps the code grid back to an image. The objective
is a reconstruction loss plus the quantiser's codebook and commitment terms
(β = 0.25). Two reconstruction losses, both the report's:

* ``"mse"``: mean squared error divided by the training data's variance
  (:func:`ganzoo.losses.vq_mse_reconstruction`); the decoder's output is the image.
* ``"bernoulli"``: binary cross-entropy summed over pixels
  (:func:`ganzoo.losses.bernoulli_nll`); the decoder's output is the logits of
  ``p(x01 | z)`` over pixel intensities ``x01 = (x + 1) / 2`` in ``[0, 1]``.

Like every model of the zoo, a VQ-VAE consumes and produces images in ``[-1, 1]`` (so
the data pipeline, ``ganzoo encode``, ``ganzoo eval`` and the sample grids need nothing
special): ``decode`` clamps the MSE decoder's output to ``[-1, 1]`` and maps the
Bernoulli decoder's mean ``σ(logits)`` to ``2σ − 1``.

Presets (the report's networks, counts checked by the tests):

* ``mnist`` (the default): 28×28×1, ``d = 16``, ``K = 64``, a 7×7 code grid; encoder
  19,856 and decoder 28,033 parameters.
* ``cifar10``: 32×32×3, ``d = 64``, ``K = 512``, an 8×8 code grid; encoder 404,864
  and decoder 518,275 parameters.

Sampling needs a prior over code grids (the paper fits a PixelCNN): ``.prior`` holds a
:class:`~ganzoo.archs.vqvae.prior.GatedPixelCNN` once :meth:`VQVAE.attach_prior` made one, and
``sample`` draws codes from it and decodes them. The config records the prior
(``VQVAEConfig.prior``), so one folder — one ``from_pretrained`` — brings back encoder,
codebook, decoder and prior.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from ganzoo.archs.vqvae.networks import VQVAEDecoder, VQVAEEncoder
from ganzoo.archs.vqvae.prior import PRIOR_PRESETS, GatedPixelCNN, GatedPixelCNNConfig
from ganzoo.archs.vqvae.quantizer import VectorQuantizer, VQOutput
from ganzoo.config import check_range
from ganzoo.errors import GanzooError, did_you_mean
from ganzoo.losses import bernoulli_nll, vq_mse_reconstruction
from ganzoo.models.base import ZooModel
from ganzoo.nn.init import keras_init_
from ganzoo.registry import register_model

#: Largest width, code size or image side a config may ask for.
MAX_WIDTH = 4096
#: Most codes a codebook may have.
MAX_CODES = 65536
#: Reconstruction losses: ``"mse"`` (divided by the data variance) and ``"bernoulli"``.
RECONSTRUCTIONS = ("mse", "bernoulli")
#: The fix named when a VQ-VAE without a prior is asked to sample.
NO_PRIOR_HINT = (
    "this VQ-VAE has no prior over its codes, so it cannot sample (encode, decode and "
    "reconstruct work); train one with `ganzoo train vqvae --stage prior --from <this model> "
    "--out <new folder>` or model.attach_prior()"
)


@dataclass
class VQVAEConfig:
    """Configuration of :class:`VQVAE` (defaults: the report's MNIST network).

    Every (transposed) convolution is 3×3 with "same" padding and a ReLU, except the
    encoder's last layer (a 1×1 convolution to ``code_dim`` channels) and the decoder's
    last layer (a stride-1 transposed convolution to ``channels``), which are linear.

    Attributes:
        image_size: image height and width.
        channels: image channels.
        code_dim: ``d``, the size of each code and of the encoder's output vectors.
        num_codes: ``K``, the number of codes in the codebook.
        beta: weight β of the commitment loss (0.25 in the paper and the report).
        encoder_widths: output channels of the encoder's 3×3 convolutions, in order.
        encoder_strides: their strides, each 1 or 2.
        decoder_widths: output channels of the decoder's 3×3 transposed convolutions
            before its output layer, in order.
        decoder_strides: their strides, each 1 or 2; the decoder must give back
            ``image_size`` from the encoder's grid.
        reconstruction: ``"mse"`` (MSE / data variance) or ``"bernoulli"`` (BCE summed
            over pixels, on logits).
        ema_decay: ``None`` to learn the codebook by gradient (the report), or a decay
            such as 0.99 for exponential-moving-average codebook updates.
        dead_code_threshold: codes used less than this many times per batch (moving
            average) are restarted by ``quantizer.restart_dead_codes`` when a training
            recipe asks for restarts.
        dataset: the data set the model is meant for.
        prior: the configuration of the gated PixelCNN prior over the code grid, or
            ``None`` for a model without a prior (it encodes, decodes and reconstructs but
            cannot sample). Set by :meth:`VQVAE.attach_prior`; its ``num_codes`` must be
            ``num_codes``.

    """

    image_size: int = 28
    channels: int = 1
    code_dim: int = 16
    num_codes: int = 64
    beta: float = 0.25
    encoder_widths: tuple[int, ...] = (32, 64)
    encoder_strides: tuple[int, ...] = (2, 2)
    decoder_widths: tuple[int, ...] = (64, 32)
    decoder_strides: tuple[int, ...] = (2, 2)
    reconstruction: str = "mse"
    ema_decay: float | None = None
    dead_code_threshold: float = 1.0
    dataset: str = "mnist"
    prior: GatedPixelCNNConfig | None = None

    def __post_init__(self) -> None:
        for name in ("encoder_widths", "encoder_strides", "decoder_widths", "decoder_strides"):
            if isinstance(getattr(self, name), list):
                setattr(self, name, tuple(getattr(self, name)))  # JSON gives lists back

    def grid_size(self) -> int:
        """Side of the code grid: the image side through the encoder's strides (rounded up)."""
        size = self.image_size
        for stride in self.encoder_strides:
            size = (size - 1) // stride + 1
        return size

    def validate(self) -> None:
        """Check sizes, rates and choices before any network is built (types are checked before).

        Raises:
            GanzooError: one line naming the field and its allowed values.

        """
        if self.reconstruction not in RECONSTRUCTIONS:
            raise GanzooError(
                f"reconstruction must be 'mse' or 'bernoulli', got "
                f"'{self.reconstruction}'{did_you_mean(self.reconstruction, RECONSTRUCTIONS)}"
            )
        check_range(self, "image_size", 1, MAX_WIDTH)
        check_range(self, "channels", 1, MAX_WIDTH)
        check_range(self, "code_dim", 1, MAX_WIDTH)
        check_range(self, "num_codes", 1, MAX_CODES)
        check_range(self, "beta", 0.0, 100.0)
        check_range(self, "dead_code_threshold", 0.0, 1e9)
        check_range(self, "ema_decay", 0.0, 1.0, low_open=True, high_open=True, allow_none=True)
        for side in ("encoder", "decoder"):
            widths, strides = getattr(self, f"{side}_widths"), getattr(self, f"{side}_strides")
            if not 1 <= len(widths) <= 16:
                raise GanzooError(f"{side}_widths must list 1 to 16 widths, got {len(widths)}")
            if len(strides) != len(widths):
                raise GanzooError(
                    f"{side}_strides must give one stride per width: {len(widths)} widths, "
                    f"{len(strides)} strides"
                )
            for width in widths:
                if not 1 <= width <= MAX_WIDTH:
                    raise GanzooError(f"{side}_widths must be in [1, {MAX_WIDTH}], got {width}")
            for stride in strides:
                if stride not in (1, 2):
                    raise GanzooError(f"{side}_strides must each be 1 or 2, got {stride}")
        if self.prior is not None and self.prior.num_codes != self.num_codes:
            raise GanzooError(
                f"prior.num_codes must be the codebook's size {self.num_codes}, got "
                f"{self.prior.num_codes}"
            )
        decoded = self.grid_size() * math.prod(self.decoder_strides)
        if decoded != self.image_size:
            raise GanzooError(
                f"the decoder gives {decoded}×{decoded} images from the "
                f"{self.grid_size()}×{self.grid_size()} code grid, not "
                f"{self.image_size}×{self.image_size}; make decoder_strides undo encoder_strides"
            )


class VQEncoding(NamedTuple):
    """``encode(x, return_latents=True)``: the code grid and the encoder's outputs.

    Attributes:
        codes: code indices ``(N, h, w)``, ``torch.long``.
        z_e: the encoder's outputs ``(N, code_dim, h, w)`` before quantisation.

    """

    codes: torch.Tensor
    z_e: torch.Tensor


@dataclass
class VQVAEOutput:
    """What :meth:`VQVAE.forward` returns: everything a training step needs.

    Attributes:
        decoded: the decoder's raw output ``(N, C, H, W)``: images in ``[-1, 1]`` space,
            unclamped (``mse``), or logits of ``(x + 1) / 2`` (``bernoulli``).
        z_e: the encoder's outputs ``(N, d, h, w)``, e.g. for dead-code restarts.
        vq: the quantiser's output (codes, VQ losses, perplexity, used codes).
        reconstruction_loss: MSE / data variance, or the Bernoulli NLL (fp32 scalar).
        loss: the objective to minimise: ``reconstruction_loss + vq.loss``.

    """

    decoded: torch.Tensor
    z_e: torch.Tensor
    vq: VQOutput
    reconstruction_loss: torch.Tensor
    loss: torch.Tensor


_MNIST = VQVAEConfig()
_CIFAR10 = VQVAEConfig(
    image_size=32,
    channels=3,
    code_dim=64,
    num_codes=512,
    encoder_widths=(32, 64, 128, 256),
    encoder_strides=(1, 2, 2, 1),
    decoder_widths=(256, 128, 64),
    decoder_strides=(1, 2, 2),
    dataset="cifar10",
)


@register_model("vqvae", presets={"mnist": _MNIST, "cifar10": _CIFAR10}, default_preset="mnist")
class VQVAE(ZooModel):
    """VQ-VAE (van den Oord et al. 2017): a discrete code grid between a conv encoder and decoder.

    ``encode(x)`` gives the code grid ``(N, h, w)`` (and ``z_e`` on request),
    ``decode(codes)`` and ``reconstruct(x)`` give images in ``[-1, 1]``, and ``forward(x)``
    returns the losses of a training step (:class:`VQVAEOutput`). ``sample(n)`` draws
    code grids from ``.prior`` (a PixelCNN) and decodes them; a model without a prior
    says how to train one. The training data's variance, used by the MSE loss, is the
    buffer ``data_variance`` (of images in ``[-1, 1]``), saved with the weights.

    Attributes:
        encoder: images → ``z_e``.
        quantizer: the codebook (:class:`~ganzoo.archs.vqvae.quantizer.VectorQuantizer`).
        decoder: code vectors → images (or logits).
        prior: a prior over code grids with ``sample(n, height, width, generator=,
            device=)`` (a :class:`~ganzoo.archs.vqvae.prior.GatedPixelCNN`), or ``None``.

    """

    config_class = VQVAEConfig
    config: VQVAEConfig
    data_variance: torch.Tensor
    prior: nn.Module | None
    papers = (
        (
            "van den Oord et al. 2017, Neural Discrete Representation Learning",
            "https://arxiv.org/abs/1711.00937",
        ),
        (
            "van den Oord et al. 2016, Conditional Image Generation with PixelCNN Decoders "
            "(the gated PixelCNN prior)",
            "https://arxiv.org/abs/1606.05328",
        ),
    )

    def __init__(self, config: VQVAEConfig | dict | None = None, **overrides: object) -> None:
        super().__init__(config, **overrides)
        self.encoder = keras_init_(VQVAEEncoder(self.config))
        self.quantizer = VectorQuantizer(
            self.config.num_codes,
            self.config.code_dim,
            beta=self.config.beta,
            ema_decay=self.config.ema_decay,
            dead_code_threshold=self.config.dead_code_threshold,
        )
        self.decoder = keras_init_(VQVAEDecoder(self.config))
        self.register_module(
            "prior", GatedPixelCNN(self.config.prior) if self.config.prior is not None else None
        )
        self.register_buffer("data_variance", torch.ones(()))

    # ------------------------------------------------------------------ parts
    def default_prior_config(self) -> GatedPixelCNNConfig:
        """The prior :meth:`attach_prior` builds when given none.

        ``PRIOR_PRESETS[dataset]`` when the model's data set has a preset of the same
        codebook size (the bundled MNIST and CIFAR-10 priors), else the default
        :class:`~ganzoo.archs.vqvae.prior.GatedPixelCNNConfig` sized to the codebook.
        """
        preset = PRIOR_PRESETS.get(self.config.dataset)
        if preset is not None and preset.num_codes == self.config.num_codes:
            return dataclasses.replace(preset)
        return GatedPixelCNNConfig(num_codes=self.config.num_codes)

    def attach_prior(self, config: GatedPixelCNNConfig | dict | None = None) -> GatedPixelCNN:
        """Build a new (untrained) gated PixelCNN prior over this model's codes and attach it.

        The config records it (``config.prior``), so ``save_pretrained`` and
        ``from_pretrained`` carry it. A prior already attached is replaced.

        Args:
            config: the prior's configuration, or a dict of the fields to change from
                :meth:`default_prior_config` (``num_codes`` defaults to the codebook's size
                and must equal it).

        Returns:
            The new prior, on the model's device.

        Raises:
            GanzooError: for a bad field or a ``num_codes`` other than the codebook's size.

        """
        from ganzoo.registry import replace_config

        if config is None or isinstance(config, dict):
            config = replace_config(self.default_prior_config(), **(config or {}))
        elif not isinstance(config, GatedPixelCNNConfig):
            raise GanzooError(
                f"attach_prior takes a GatedPixelCNNConfig or a dict of its fields, "
                f"got {type(config).__name__}"
            )
        self.config = replace_config(self.config, prior=config)  # checks num_codes
        prior = GatedPixelCNN(self.config.prior).to(self.device)
        self.prior = prior
        return prior

    def remove_prior(self) -> None:
        """Drop the prior (and its config): the model then encodes and decodes but cannot sample."""
        self.prior = None
        self.config = dataclasses.replace(self.config, prior=None)

    def use_ema_codebook(self, decay: float) -> None:
        """Switch the codebook to exponential-moving-average updates (``ema_decay = decay``).

        The codes, their usage averages and the data variance are kept; the codebook
        becomes a buffer updated in training-mode forwards instead of a parameter (build
        the optimiser after this). The config records it, so checkpoints load back.

        Raises:
            GanzooError: for a decay outside ``(0, 1)``.

        """
        from ganzoo.registry import replace_config

        if self.config.ema_decay == decay:
            return
        config = replace_config(self.config, ema_decay=decay)
        old = self.quantizer
        new = VectorQuantizer(
            config.num_codes,
            config.code_dim,
            beta=config.beta,
            ema_decay=config.ema_decay,
            dead_code_threshold=config.dead_code_threshold,
        ).to(old.codebook.device)
        with torch.no_grad():
            new.codebook.copy_(old.codebook)
            new.cluster_size.copy_(old.cluster_size)
            if new.uses_ema:
                # e_k = m_k / N_k: the running sums that give back the current codes
                new.ema_weight.copy_(old.codebook * old.cluster_size.unsqueeze(1))
        self.quantizer = new
        self.config = config

    # ------------------------------------------------------------------ metadata
    @property
    def code_grid(self) -> tuple[int, int]:
        """``(h, w)`` of the code grid of one image."""
        side = self.config.grid_size()
        return side, side

    def data_contract(self) -> dict:
        """The base contract plus the code grid and the number of codes."""
        contract = super().data_contract()
        contract["code_grid"] = list(self.code_grid)
        contract["num_codes"] = self.config.num_codes
        return contract

    # ------------------------------------------------------------------ checks
    def _check_images(self, x: torch.Tensor) -> None:
        size, channels = self.config.image_size, self.config.channels
        if x.dim() != 4 or tuple(x.shape[1:]) != (channels, size, size):
            raise GanzooError(
                f"this VQ-VAE takes images (N, {channels}, {size}, {size}) in [-1, 1], "
                f"got a tensor of shape {tuple(x.shape)}"
            )

    def _check_codes(self, codes: torch.Tensor) -> None:
        if codes.dim() != 3 or tuple(codes.shape[1:]) != self.code_grid:
            h, w = self.code_grid
            raise GanzooError(
                f"this VQ-VAE decodes code grids (N, {h}, {w}), got a tensor of shape "
                f"{tuple(codes.shape)}"
            )

    def _to_images(self, decoded: torch.Tensor) -> torch.Tensor:
        """The decoder's raw output as images in ``[-1, 1]``."""
        if self.config.reconstruction == "bernoulli":
            return torch.sigmoid(decoded) * 2.0 - 1.0
        return decoded.clamp(-1.0, 1.0)

    # ------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor) -> VQVAEOutput:
        """Encode, quantise and decode ``x`` in ``[-1, 1]``; return outputs and losses.

        In training mode the quantiser also updates its usage average (and an EMA
        codebook). The MSE loss divides by the buffer ``data_variance``: set it to the
        training images' variance (in ``[-1, 1]``) before training.
        """
        self._check_images(x)
        z_e = self.encoder(x)
        vq = self.quantizer(z_e)
        decoded = self.decoder(vq.z_q)
        if self.config.reconstruction == "bernoulli":
            reconstruction = bernoulli_nll(decoded, (x + 1.0) / 2.0)
        else:
            reconstruction = vq_mse_reconstruction(decoded, x, self.data_variance)
        return VQVAEOutput(
            decoded=decoded,
            z_e=z_e,
            vq=vq,
            reconstruction_loss=reconstruction,
            loss=reconstruction + vq.loss,
        )

    # ------------------------------------------------------------------ inference
    def encode(  # type: ignore[override]
        self, x: torch.Tensor, return_latents: bool = False
    ) -> torch.Tensor | VQEncoding:
        """Code grids ``(N, h, w)`` (long) of images ``(N, C, H, W)`` in ``[-1, 1]``.

        Args:
            x: the images.
            return_latents: also return the encoder's outputs ``z_e`` (a :class:`VQEncoding`).

        Raises:
            GanzooError: for images of the wrong shape.

        """
        self._check_images(x)
        z_e = self.encoder(x)
        codes = self.quantizer.encode(z_e)
        return VQEncoding(codes, z_e) if return_latents else codes

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` in ``[-1, 1]`` from code grids ``(N, h, w)``.

        Raises:
            GanzooError: for a grid of the wrong shape or codes outside ``[0, num_codes)``.

        """
        self._check_codes(codes)
        return self._to_images(self.decoder(self.quantizer.lookup(codes)))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Images through the code grid: ``decode(encode(x))``."""
        return self.decode(self.encode(x))  # type: ignore[arg-type]

    def sample(
        self, n: int, seed: int | None = None, device: str | torch.device | None = None
    ) -> torch.Tensor:
        """Draw ``n`` code grids from the prior and decode them: ``(n, C, H, W)`` in ``[-1, 1]``.

        The same ``seed`` gives the same images on any device (codes are drawn with a CPU
        generator).

        Raises:
            GanzooError: if the model has no prior (naming how to train one), or for a
                non-positive ``n``.

        """
        if self.prior is None:
            raise GanzooError(NO_PRIOR_HINT)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise GanzooError(f"n must be a positive integer, got {n!r}")
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        h, w = self.code_grid
        codes = self.prior.sample(n, h, w, generator=generator, device=self.device)
        images = self.decode(codes)
        return images if device is None else images.to(device)
