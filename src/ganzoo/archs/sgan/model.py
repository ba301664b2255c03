"""Semi-supervised GAN for MNIST (Odena 2016; Salimans et al. 2016), as in the course report.

One discriminator backbone carries two heads over the same 10 logits ``l``: the
classifier ``C = softmax(l)`` and the real/fake discriminator
``D(x) = Z / (Z + 1)`` with ``Z = Σ_k exp(l_k)``, i.e. ``sigmoid(logsumexp(l))``
(the "stacked" discriminator of Salimans et al.), always computed in log space.

With ``conditional=True`` the generator also takes a class: ``G(z, y)`` adds a learned
vector per class to its first dense layer's output, which is the same as feeding
``[z, one_hot(y)]`` to that layer (Mirza & Osindero 2014's conditional GAN). The trainer
then teaches G to draw the class it is asked for through the classifier head (see
:class:`ganzoo.archs.sgan.train.SGANTrainer`, recipe ``conditional``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganzoo.archs.sgan.conditional import balanced_labels, check_labels, no_labels_error
from ganzoo.config import check_range
from ganzoo.errors import GanzooError
from ganzoo.models.base import GaussianPrior, ZooModel, latent_noise
from ganzoo.nn.init import keras_init_
from ganzoo.registry import register_model

#: Largest width or latent size a config may ask for (a 4096-wide SGAN has ~10^9 weights).
MAX_WIDTH = 4096


@dataclass
class SGANConfig:
    """Configuration of :class:`SGAN` (defaults: the report's network).

    Attributes:
        latent_dim: size of the generator's input noise ``z ~ N(0, I)``.
        width: filters of every convolution (128 in the report).
        num_classes: classes of the classifier head.
        dropout: dropout before the classifier's dense layer.
        leaky_slope: slope of the LeakyReLUs.
        image_size: image height and width.
        channels: image channels.
        dataset: the data set the model is meant for.
        input_noise: std of Gaussian noise added to D's input while training (Salimans
            et al. used 0.3 on MNIST); 0 in the report.
        hidden_noise: std of Gaussian noise added after each of D's convolutional layers
            while training (Salimans et al.: 0.5); 0 in the report.
        conditional: a class-conditional generator ``G(z, y)``: one learned vector per
            class (``num_classes × width·(image_size/4)²`` more weights, zero at the
            start) is added to the first dense layer's output, i.e. the one-hot class
            joins ``z`` at G's input. ``sample(n, labels=...)`` then draws the asked
            digits. Off in the report; ``ganzoo train sgan --recipe conditional`` sets it.

    """

    latent_dim: int = 100
    width: int = 128
    num_classes: int = 10
    dropout: float = 0.4
    leaky_slope: float = 0.2
    image_size: int = 28
    channels: int = 1
    dataset: str = "mnist"
    input_noise: float = 0.0
    hidden_noise: float = 0.0
    conditional: bool = False

    def validate(self) -> None:
        """Check sizes and rates before any network is built (types are checked before).

        Raises:
            GanzooError: naming the field and its allowed range.

        """
        for name in ("latent_dim", "width"):
            check_range(self, name, 1, MAX_WIDTH)
        check_range(self, "num_classes", 1, 100_000)
        check_range(self, "channels", 1, 64)
        check_range(self, "image_size", 4, 1024)
        if self.image_size % 4:
            raise GanzooError(
                f"image_size must be a multiple of 4 (the generator doubles its side twice), "
                f"got {self.image_size}"
            )
        check_range(self, "dropout", 0.0, 1.0, high_open=True)
        check_range(self, "leaky_slope", 0.0, 1.0)
        for name in ("input_noise", "hidden_noise"):
            check_range(self, name, 0.0, 10.0)


class SGANDiscriminator(nn.Module):
    """The shared backbone: three stride-2 3×3 convolutions, dropout, a dense layer of logits.

    ``forward`` returns the class logits; :meth:`features` the flattened last
    convolution (the layer feature matching uses).
    """

    def __init__(self, config: SGANConfig) -> None:
        super().__init__()
        w, slope = config.width, config.leaky_slope
        self.body = nn.Sequential(
            nn.Conv2d(config.channels, w, 3, stride=2, padding=1),
            nn.LeakyReLU(slope),
            nn.Conv2d(w, w, 3, stride=2, padding=1),
            nn.LeakyReLU(slope),
            nn.Conv2d(w, w, 3, stride=2, padding=1),
            nn.LeakyReLU(slope),
            nn.Flatten(),
        )
        side = config.image_size
        for _ in range(3):
            side = (side + 1) // 2
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(w * side * side, config.num_classes)
        self.input_noise = config.input_noise
        self.hidden_noise = config.hidden_noise

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened activations of the last convolution, ``(n, width·4·4)``.

        In training mode, Gaussian noise of std ``input_noise`` / ``hidden_noise`` is added
        to the input / after every activation (parameter-free, so counts are unchanged).
        """
        if not self.training or (self.input_noise <= 0 and self.hidden_noise <= 0):
            return self.body(x)
        x = _add_noise(x, self.input_noise)
        for layer in self.body:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                x = _add_noise(x, self.hidden_noise)
        return x

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits from :meth:`features` (applies dropout in training mode)."""
        return self.head(self.dropout(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(n, num_classes)``."""
        return self.logits_from_features(self.features(x))


def _add_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    return x + std * torch.randn_like(x) if std > 0 else x


class SGANGenerator(nn.Module):
    """Dense to 7×7×width, two 4×4 stride-2 transposed convolutions, a 7×7 convolution, tanh.

    A conditional generator (``config.conditional``) has ``embed``, one vector per class
    added to the dense layer's output before its activation: ``W z + b + E[y]`` equals
    the dense layer applied to ``[z, one_hot(y)]``. ``E`` starts at zero, so at first
    ``G(z, y)`` is the unconditional ``G(z)``.
    """

    def __init__(self, config: SGANConfig) -> None:
        super().__init__()
        w, slope = config.width, config.leaky_slope
        self.start = config.image_size // 4
        self.width = w
        self.num_classes = config.num_classes
        dense = nn.Linear(config.latent_dim, w * self.start**2)
        self.project = nn.Sequential(dense, nn.LeakyReLU(slope))
        self.embed: nn.Embedding | None = None
        if config.conditional:
            self.embed = nn.Embedding(config.num_classes, w * self.start**2)
            nn.init.zeros_(self.embed.weight)
        self.body = nn.Sequential(
            nn.ConvTranspose2d(w, w, 4, stride=2, padding=1),
            nn.LeakyReLU(slope),
            nn.ConvTranspose2d(w, w, 4, stride=2, padding=1),
            nn.LeakyReLU(slope),
            nn.Conv2d(w, config.channels, 7, padding=3),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images ``(n, channels, size, size)`` in [-1, 1] from latents ``(n, latent_dim)``.

        Args:
            z: the latents.
            labels: int64 class indices ``(n,)``; required by a conditional generator
                and refused by the others.

        Raises:
            GanzooError: for labels missing (conditional) or given (unconditional).

        """
        if self.embed is None:
            if labels is not None:
                raise GanzooError("this SGAN generator is not conditional; call it without labels")
            h = self.project(z)
        else:
            if labels is None:
                raise GanzooError(
                    "this SGAN generator is conditional: pass labels, one class index per latent"
                )
            dense, activation = self.project
            h = activation(dense(z) + self.embed(labels))
        return self.body(h.view(-1, self.width, self.start, self.start))


@register_model("sgan", presets={"report": SGANConfig(), "wide": SGANConfig(width=192)})
class SGAN(GaussianPrior, ZooModel):
    """Semi-supervised GAN: a generator and a discriminator whose logits also classify.

    ``classify(x)`` gives class logits; ``sample(n)`` draws digits, and with a
    conditional generator (``conditional=True``) ``sample(n, labels=7)`` draws 7s.
    Presets: ``report`` (the report's network, 316,938 + 1,164,289 parameters) and
    ``wide``.
    """

    config_class = SGANConfig
    papers = (
        (
            "Odena 2016, Semi-Supervised Learning with Generative Adversarial Networks",
            "https://arxiv.org/abs/1606.01583",
        ),
        (
            "Salimans et al. 2016, Improved Techniques for Training GANs",
            "https://arxiv.org/abs/1606.03498",
        ),
    )

    def __init__(self, config: SGANConfig | dict | None = None, **overrides: object) -> None:
        super().__init__(config, **overrides)
        self.generator = keras_init_(SGANGenerator(self.config))
        self.discriminator = keras_init_(SGANDiscriminator(self.config))

    def sample(
        self,
        n: int,
        seed: int | None = None,
        device: str | torch.device | None = None,
        *,
        labels: int | Any | None = None,
    ) -> torch.Tensor:
        """Decode ``n`` latents drawn from N(0, I); the same ``seed`` gives the same images.

        A conditional generator (:attr:`conditional`) decodes each latent with a class:
        ``labels`` is one class index for all ``n`` images, or one per image (a list,
        array or tensor of length ``n``), each in ``0..num_classes-1``. Without
        ``labels`` it draws them itself, balanced: every class ``n // num_classes`` or
        one more times, in a random order (from ``seed`` when given). The latents do
        not depend on the labels: the same seed with other labels draws other digits
        in the same styles.

        Raises:
            GanzooError: for labels out of range or of the wrong length, or labels given
                to an SGAN without a conditional generator.

        """
        if not self.conditional:
            if labels is not None:
                raise no_labels_error(self)
            return super().sample(n, seed, device)
        device = torch.device(device) if device is not None else self.device
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        z = latent_noise(n, self.config.latent_dim, seed, device, generator=generator)
        num_classes = self.config.num_classes
        if labels is None:
            y = balanced_labels(n, num_classes, generator)
        else:
            y = check_labels(labels, n, num_classes)
        return self.decode(z, y.to(device))

    def decode(self, z: torch.Tensor, labels: Any | None = None) -> torch.Tensor:
        """Digits in [-1, 1] from latents ``z`` of shape ``(n, latent_dim)``.

        Args:
            z: the latents.
            labels: for a conditional generator, the classes to draw: one index for all,
                or one per latent (see :func:`ganzoo.archs.sgan.conditional.check_labels`).

        Raises:
            GanzooError: for labels missing or bad (conditional), or given (unconditional).

        """
        if not self.conditional:
            if labels is not None:
                raise no_labels_error(self)
            return self.generator(z)
        if labels is None:
            raise GanzooError(
                "this SGAN's generator is conditional: pass labels (e.g. decode(z, 7)), "
                "or use sample(n), which draws balanced labels"
            )
        y = check_labels(labels, z.shape[0], self.config.num_classes).to(z.device)
        return self.generator(z, y)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(n, num_classes)`` for images in [-1, 1]."""
        return self.discriminator(x)
