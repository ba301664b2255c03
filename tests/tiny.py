"""A tiny GAN registered for the tests of the spine (it never ships in the package)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.models.base import ZooModel, latent_noise
from ganzoo.registry import register_model, register_trainer
from ganzoo.train.base import TrainConfig, Trainer


@dataclass
class TinyConfig:
    latent_dim: int = 8
    image_size: int = 8
    channels: int = 1
    hidden: int = 16
    dataset: str = "tiny"


@register_model("tiny", presets={"report": TinyConfig(), "wide": TinyConfig(hidden=32)})
class TinyGAN(ZooModel):
    """A two-layer GAN for tests."""

    config_class = TinyConfig

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        pixels = c.channels * c.image_size**2
        self.generator = nn.Sequential(
            nn.Linear(c.latent_dim, c.hidden), nn.ReLU(), nn.Linear(c.hidden, pixels), nn.Tanh()
        )
        self.discriminator = nn.Sequential(
            nn.Flatten(),
            nn.Linear(pixels, c.hidden),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(c.hidden, 1),
        )

    def decode(self, z):
        c = self.config
        return self.generator(z).view(-1, c.channels, c.image_size, c.image_size)

    def sample(self, n, seed=None, device=None):
        z = latent_noise(n, self.config.latent_dim, seed, torch.device(device or self.device))
        return self.decode(z)


@dataclass
class TinyTrainConfig(TrainConfig):
    steps: int = 6
    batch_size: int = 4
    log_every: int = 2
    sample_every: int = 0
    d_weight: float = 1.0


@register_trainer(
    "tiny", recipes={"report": TinyTrainConfig(), "strong-d": TinyTrainConfig(d_weight=2.0)}
)
class TinyTrainer(Trainer):
    config_class = TinyTrainConfig

    def configure_optimizers(self):
        return {
            "d": self.adam(self.model.discriminator.parameters()),
            "g": self.adam(self.model.generator.parameters()),
        }

    def ema_module(self):
        return self.model.generator

    def train_step(self, batch):
        x, _ = batch
        z = torch.randn(
            x.shape[0], self.model.config.latent_dim, generator=self.noise, device=self.device
        )
        fake = self.model.decode(z)
        d = self.model.discriminator
        d_loss = F.softplus(-d(x)).mean() + F.softplus(d(fake.detach())).mean()
        self.optimizer_step("d", self.config.d_weight * d_loss)
        g_loss = F.softplus(-d(fake)).mean()
        self.optimizer_step("g", g_loss)
        return {"d": d_loss.detach(), "g": g_loss.detach()}


def tiny_images(n=32, size=8, channels=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)


class CountingConv(nn.Module):
    """A fixed random conv net, a stand-in feature network: uint8 (N, 3, H, W) -> (N, 12).

    Counts the images it embeds in :attr:`calls` (reset it in the fixture that registers it).
    """

    dims = 12
    calls: list[int] = []

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, 3, 3, stride=2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=generator))
            self.conv.bias.copy_(torch.randn(3, generator=generator))

    def forward(self, images):
        CountingConv.calls.append(len(images))
        x = torch.relu(self.conv(images.float() / 255.0))
        return nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)
