"""VAE-GAN for MNIST (Larsen et al. 2016), as in the course report.

The SGAN's generator is replaced by a small dense VAE (2-D latent); the SGAN's
discriminator/classifier is kept unchanged. The decoder ends in tanh because the
discriminator sees images in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganzoo.archs.sgan.model import MAX_WIDTH, SGANConfig, SGANDiscriminator
from ganzoo.config import check_choice, check_range
from ganzoo.errors import GanzooError
from ganzoo.models.base import GaussianPrior, ZooModel
from ganzoo.nn.init import keras_init_
from ganzoo.registry import register_model


@dataclass
class VAEGANConfig:
    """Configuration of :class:`VAEGAN` (defaults: the report's network).

    Attributes:
        hidden: widths of the encoder's dense layers (the decoder mirrors them).
        latent_dim: size of the latent code (2 in the report).
        width: filters of the discriminator's convolutions.
        num_classes: classes of the classifier head.
        dropout: dropout of the discriminator.
        leaky_slope: slope of the discriminator's LeakyReLUs.
        image_size: image height and width.
        channels: image channels.
        dataset: the data set the model is meant for.
        activation: hidden activation of encoder and decoder, ``"relu"`` (the usual
            choice; the report does not print its own) or ``"leaky_relu"`` (slope
            ``leaky_slope``; no unit of the narrow 8- and 16-wide layers can die).

    """

    hidden: tuple[int, ...] = (64, 16, 8)
    latent_dim: int = 2
    width: int = 128
    num_classes: int = 10
    dropout: float = 0.4
    leaky_slope: float = 0.2
    image_size: int = 28
    channels: int = 1
    dataset: str = "mnist"
    activation: str = "relu"

    def __post_init__(self) -> None:
        if isinstance(self.hidden, list):
            self.hidden = tuple(self.hidden)  # JSON gives lists back

    def validate(self) -> None:
        """Check sizes, rates and choices before any network is built (types are checked before).

        Raises:
            GanzooError: naming the field and its allowed values.

        """
        check_choice(self, "activation", ("relu", "leaky_relu"))
        if not 1 <= len(self.hidden) <= 16:
            raise GanzooError(f"hidden must list 1 to 16 layer widths, got {len(self.hidden)}")
        for width in self.hidden:
            if not 1 <= width <= MAX_WIDTH:
                raise GanzooError(f"hidden widths must be in [1, {MAX_WIDTH}], got {width}")
        check_range(self, "latent_dim", 1, MAX_WIDTH)
        self.discriminator_config().validate()

    def discriminator_config(self) -> SGANConfig:
        """The SGAN config of the shared discriminator."""
        return SGANConfig(
            width=self.width,
            num_classes=self.num_classes,
            dropout=self.dropout,
            leaky_slope=self.leaky_slope,
            image_size=self.image_size,
            channels=self.channels,
            dataset=self.dataset,
        )


def _dense_stack(sizes: list[int], config: VAEGANConfig) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        act = nn.ReLU() if config.activation == "relu" else nn.LeakyReLU(config.leaky_slope)
        layers += [nn.Linear(a, b), act]
    return layers


class VAEEncoder(nn.Module):
    """Dense encoder 784 → 64 → 16 → 8 → (μ, log σ) with ReLU (or leaky) hidden layers."""

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__()
        pixels = config.channels * config.image_size**2
        self.body = nn.Sequential(nn.Flatten(), *_dense_stack([pixels, *config.hidden], config))
        self.mean = nn.Linear(config.hidden[-1], config.latent_dim)
        self.log_sigma = nn.Linear(config.hidden[-1], config.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, log σ)`` of q(z|x), each ``(n, latent_dim)``."""
        h = self.body(x)
        return self.mean(h), self.log_sigma(h)


class VAEDecoder(nn.Module):
    """Dense decoder 2 → 8 → 16 → 64 → 784, ReLU (or leaky) hidden layers, a tanh output."""

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__()
        self.shape = (config.channels, config.image_size, config.image_size)
        pixels = config.channels * config.image_size**2
        sizes = [config.latent_dim, *reversed(config.hidden)]
        output = [nn.Linear(sizes[-1], pixels), nn.Tanh()]
        self.body = nn.Sequential(*_dense_stack(sizes, config), *output)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(n, C, H, W)`` in [-1, 1]."""
        return self.body(z).view(-1, *self.shape)


#: A VAE wide enough to keep the ten digits apart: 256- and 128-unit dense layers and a
#: 16-d code (the report's 2-d code through 8- and 16-unit layers merges classes even
#: without the GAN; see the MNIST page's "VAE-GAN: why the samples collapsed").
WIDE = VAEGANConfig(hidden=(256, 128), latent_dim=16)


@register_model("vaegan", presets={"report": VAEGANConfig(), "wide": WIDE})
class VAEGAN(GaussianPrior, ZooModel):
    """VAE-GAN: a VAE generator judged by the SGAN discriminator/classifier (Larsen et al. 2016).

    ``encode(x)`` gives ``{"mu", "log_sigma"}``; ``decode(z)``, ``reconstruct(x)``,
    ``sample(n)`` and ``classify(x)`` do what they say. Report preset: encoder 51,452
    and decoder 52,216 parameters, the SGAN's discriminator 316,938.
    """

    config_class = VAEGANConfig
    papers = (
        (
            "Larsen et al. 2016, Autoencoding beyond pixels using a learned similarity metric",
            "https://arxiv.org/abs/1512.09300",
        ),
        (
            "Odena 2016, Semi-Supervised Learning with Generative Adversarial Networks",
            "https://arxiv.org/abs/1606.01583",
        ),
    )

    def __init__(self, config: VAEGANConfig | dict | None = None, **overrides: object) -> None:
        super().__init__(config, **overrides)
        self.encoder = keras_init_(VAEEncoder(self.config))
        self.decoder = keras_init_(VAEDecoder(self.config))
        self.discriminator = keras_init_(SGANDiscriminator(self.config.discriminator_config()))

    @property
    def generator(self) -> VAEDecoder:
        """The decoder, under the name every GAN in the zoo uses."""
        return self.decoder

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"mu": μ, "log_sigma": log σ}`` of q(z|x)."""
        mu, log_sigma = self.encoder(x)
        return {"mu": mu, "log_sigma": log_sigma}

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] from latent codes."""
        return self.decoder(z)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the mean code of each image."""
        return self.decoder(self.encoder(x)[0])

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits from the discriminator's classifier head."""
        return self.discriminator(x)
