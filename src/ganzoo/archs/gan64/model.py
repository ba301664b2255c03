"""DCGAN, WGAN and WGAN-GP networks for 64×64 images, as in the course report.

The papers: Radford et al. 2016 (DCGAN), Arjovsky et al. 2017 (WGAN), Gulrajani et al.
2017 (WGAN-GP).

The three architectures share one generator and one discriminator family; what
differs is the training recipe (loss, optimisers, critic steps) and, for the
critics, the normalisation. The discriminator always returns a raw score: a logit
for the DCGAN's binary cross-entropy (never passed through a sigmoid), a critic
value for the Wasserstein losses.

Presets:

* ``report`` (the default): the course report's Keras networks exactly — a dense
  4×4×1024 start, 5×5 (transposed) convolutions, BatchNorm after every layer of D
  including the first, dropout, a dense output. Generator 18,920,320 and
  discriminator 4,343,169 parameters, counted as Keras counts them (weights plus
  BatchNorm moving statistics).
* ``paper``: Radford et al.'s (2016) topology for ``dcgan`` — 4×4 kernels (as in the
  WGAN authors' and PyTorch's DCGAN code; Radford et al.'s own code used 5×5), D strided
  down to 4×4 without BatchNorm on its input layer and without dropout; for ``wgan-gp`` the
  critic of Gulrajani et al. (2017), with LayerNorm instead of BatchNorm (a batch-wise
  normalisation breaks the per-sample gradient penalty).
* ``small``: the ``paper`` topology at a quarter of the report's generator width (32
  channels before the output) and a 32-channel first critic layer, for CPU budgets. In
  400-step art runs the report's topology at that width lost sample diversity first
  (see docs/models/gan.md).
* ``small-resize``: ``small`` with resize-convolutions in G (``g_upsample="resize"``):
  in equal-CPU pilots on the art set it beat transposed convolutions and lost the
  tiled motif.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from ganzoo.config import check_choice, check_range
from ganzoo.errors import GanzooError
from ganzoo.models.base import GaussianPrior, ZooModel
from ganzoo.registry import register_model

_NORMS = ("batch", "layer", "none")
_UPSAMPLES = ("transposed", "resize")


@dataclass
class DCGANConfig:
    """Configuration of the 64×64 GAN networks (defaults: the report's DCGAN).

    Attributes:
        latent_dim: size of the generator's input noise ``z ~ N(0, I)``.
        image_size: image height and width, a power of two from 16 (64 in the report).
        channels: image channels.
        g_width: channels of the generator's last hidden layer; each earlier layer has
            twice as many (128 in the report: 1024, 512, 256, 128).
        d_width: channels of the discriminator's first convolution; each later one has
            twice as many (64 in the report: 64, 128, 256, 512).
        kernel_size: side of every (transposed) convolution kernel: 5 (report) or 4 (paper).
        g_upsample: how G doubles its resolution: ``"transposed"`` (the report and the
            papers: stride-2 transposed convolutions) or ``"resize"`` (nearest-neighbour
            ×2 then a 3×3 convolution; Odena et al. 2016, "Deconvolution and
            Checkerboard Artifacts": no uneven kernel overlap, so no tiled motif).
        d_last_stride: stride of D's last convolution: 1 (report: strided down to 8×8,
            then one more convolution at 8×8) or 2 (paper: strided down to 4×4).
        d_norm: normalisation in D: ``"batch"`` (report), ``"layer"`` (WGAN-GP paper's
            alternative; per sample, so compatible with the gradient penalty) or ``"none"``.
        d_norm_first: normalise D's first convolution too (the report does; Radford et
            al. do not).
        dropout: dropout after each of D's activations (0: none).
        leaky_slope: slope of D's LeakyReLUs.
        spectral_norm: spectral normalisation of D's weights (Miyato et al. 2018).
        instance_noise: std of Gaussian noise added to D's input and to each hidden layer
            while training (Arjovsky & Bottou 2017; 0.1 in the report; 0: none). Trainers
            may anneal it through ``discriminator.noise_std``.
        dataset: the data set the model is meant for.

    """

    latent_dim: int = 100
    image_size: int = 64
    channels: int = 3
    g_width: int = 128
    d_width: int = 64
    kernel_size: int = 5
    g_upsample: str = "transposed"
    d_last_stride: int = 1
    d_norm: str = "batch"
    d_norm_first: bool = True
    dropout: float = 0.3
    leaky_slope: float = 0.2
    spectral_norm: bool = False
    instance_noise: float = 0.0
    dataset: str = "art64"

    def validate(self) -> None:
        """Check sizes and choices before any network is built.

        Raises:
            GanzooError: naming the field and its allowed values.

        """
        size = self.image_size
        if size < 16 or size & (size - 1):
            raise GanzooError(f"image_size must be a power of two of at least 16, got {size}")
        for name in ("latent_dim", "channels", "g_width", "d_width"):
            check_range(self, name, 1, 4096)
        check_choice(self, "kernel_size", (3, 4, 5))
        check_choice(self, "g_upsample", _UPSAMPLES)
        check_choice(self, "d_last_stride", (1, 2))
        check_choice(self, "d_norm", _NORMS)
        check_range(self, "dropout", 0.0, 1.0, high_open=True)
        check_range(self, "leaky_slope", 0.0, 1.0, high_open=True)
        check_range(self, "instance_noise", 0.0, 10.0)


def _padding(kernel_size: int) -> tuple[int, int]:
    """Padding and output padding that make a stride-2 (transposed) convolution exact 2×."""
    return (kernel_size - 1) // 2, kernel_size % 2


class DCGANGenerator(nn.Module):
    """Dense projection to 4×4, then ×2 upsampling layers up to the image.

    Each upsampling layer is a stride-2 transposed convolution, or with
    ``g_upsample="resize"`` a nearest-neighbour ×2 resize followed by a 3×3 convolution.
    Every hidden layer is BatchNorm → ReLU; the output layer is a bare transposed
    convolution → tanh (no BatchNorm on the output, as Radford et al. and the report).
    The layers carry no bias: each is followed by BatchNorm, which has its own.
    """

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        ups = int(math.log2(config.image_size // 4))
        widths = [config.g_width * 2 ** (ups - 1 - i) for i in range(ups)] + [config.channels]
        self.start_channels = widths[0]
        self.project = nn.Linear(config.latent_dim, widths[0] * 16, bias=False)
        self.project_norm = nn.BatchNorm1d(widths[0] * 16)
        padding, output_padding = _padding(config.kernel_size)
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            if config.g_upsample == "resize":
                layers += [
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
                ]
            else:
                layers.append(
                    nn.ConvTranspose2d(
                        c_in, c_out, config.kernel_size, 2, padding, output_padding, bias=False
                    )
                )
            last = i == len(widths) - 2
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(n, C, H, W)`` in ``[-1, 1]`` from latents ``(n, latent_dim)``."""
        h = torch.relu(self.project_norm(self.project(z)))
        return self.body(h.view(-1, self.start_channels, 4, 4))


class _InstanceNoise(nn.Module):
    """Adds ``N(0, owner.noise_std²)`` while training; the identity in eval mode."""

    def __init__(self, owner: DCGANDiscriminator) -> None:
        super().__init__()
        self._owner = [owner]  # a list keeps the owner out of the module tree

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = self._owner[0].noise_std
        if not self.training or std <= 0:
            return x
        return x + std * torch.randn_like(x)


class DCGANDiscriminator(nn.Module):
    """Strided convolutions → (norm) → LeakyReLU → dropout, then a dense score.

    ``forward`` returns one raw score per image: a logit for binary cross-entropy, a
    critic value for the Wasserstein losses. No sigmoid is ever applied inside.
    """

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        #: Std of the instance noise on the input and hidden layers (training only).
        self.noise_std = float(config.instance_noise)
        downs = int(math.log2(config.image_size // 8))
        strides = [2] * downs + [config.d_last_stride]
        widths = [config.channels] + [config.d_width * 2**i for i in range(len(strides))]
        size = config.image_size
        padding = (config.kernel_size - 1) // 2
        wrap = nn.utils.parametrizations.spectral_norm if config.spectral_norm else _identity
        layers: list[nn.Module] = [_InstanceNoise(self)]
        for i, stride in enumerate(strides):
            c_in, c_out = widths[i], widths[i + 1]
            size //= stride
            pad = padding
            if stride == 1 and config.kernel_size % 2 == 0:  # Keras "same": the extra row last
                extra = config.kernel_size - 1 - padding
                layers.append(nn.ZeroPad2d((padding, extra, padding, extra)))
                pad = 0
            layers.append(wrap(nn.Conv2d(c_in, c_out, config.kernel_size, stride, pad)))
            if i > 0 or config.d_norm_first:
                layers += _norm(config.d_norm, c_out, size)
            layers.append(nn.LeakyReLU(config.leaky_slope, inplace=True))
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            layers.append(_InstanceNoise(self))
        self.features = nn.Sequential(*layers)
        self.score = wrap(nn.Linear(widths[-1] * size * size, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``(n,)`` for images ``(n, C, H, W)`` in ``[-1, 1]``."""
        return self.score(self.features(x).flatten(1)).squeeze(1)


def _identity(module: nn.Module) -> nn.Module:
    return module


def _norm(kind: str, channels: int, size: int) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(channels)]
    if kind == "layer":
        return [nn.GroupNorm(1, channels)]  # LayerNorm over (C, H, W), per sample
    return []


class _GAN64(GaussianPrior, ZooModel):
    """Shared body of :class:`DCGAN`, :class:`WGAN` and :class:`WGANGP`."""

    config_class = DCGANConfig
    config: DCGANConfig

    def __init__(self, config: DCGANConfig | dict | None = None, **overrides: object) -> None:
        super().__init__(config, **overrides)
        self.config.validate()
        self.generator = DCGANGenerator(self.config)
        self.discriminator = DCGANDiscriminator(self.config)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images from latents ``z`` of shape ``(n, latent_dim)``."""
        return self.generator(z)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's raw score per image (a logit, or a critic value)."""
        return self.discriminator(x)


_REPORT = DCGANConfig()
_PAPER_DCGAN = DCGANConfig(kernel_size=4, d_last_stride=2, d_norm_first=False, dropout=0.0)
_SMALL = replace(_PAPER_DCGAN, g_width=32, d_width=32)
#: ``small`` with resize-convolution upsampling in G: the CPU pilots' winner (no tiled motif).
_SMALL_RESIZE = replace(_SMALL, g_upsample="resize")
_PAPER_WGAN_GP = replace(_PAPER_DCGAN, d_norm="layer")
_SMALL_WGAN_GP = replace(_PAPER_WGAN_GP, g_width=32, d_width=32)


_GAN_PRESETS = {
    "report": _REPORT,
    "paper": _PAPER_DCGAN,
    "small": _SMALL,
    "small-resize": _SMALL_RESIZE,
}


@register_model("dcgan", presets=_GAN_PRESETS)
class DCGAN(_GAN64):
    """DCGAN (Radford et al. 2016): convolutional G and D, non-saturating BCE loss.

    The discriminator returns logits; the loss works on them in log space.
    """

    papers = (
        (
            "Radford et al. 2016, Unsupervised Representation Learning with Deep "
            "Convolutional Generative Adversarial Networks",
            "https://arxiv.org/abs/1511.06434",
        ),
    )


@register_model("wgan", presets=_GAN_PRESETS)
class WGAN(_GAN64):
    """WGAN (Arjovsky et al. 2017): the DCGAN networks with a critic and weight clipping.

    The report kept BatchNorm in the critic (without it their runs diverged).
    """

    papers = (("Arjovsky et al. 2017, Wasserstein GAN", "https://arxiv.org/abs/1701.07875"),)


@register_model(
    "wgan-gp",
    presets={
        "report": DCGANConfig(d_norm="none", dropout=0.1),
        "paper": _PAPER_WGAN_GP,
        "small": _SMALL_WGAN_GP,
        "small-resize": replace(_SMALL_WGAN_GP, g_upsample="resize"),
    },
)
class WGANGP(_GAN64):
    """WGAN-GP (Gulrajani et al. 2017): a critic without BatchNorm and a gradient penalty.

    BatchNorm mixes the samples of a batch, which the per-sample gradient penalty
    forbids; the ``report`` preset drops it (and uses a smaller dropout), the ``paper``
    preset uses LayerNorm.
    """

    papers = (
        (
            "Gulrajani et al. 2017, Improved Training of Wasserstein GANs",
            "https://arxiv.org/abs/1704.00028",
        ),
    )
