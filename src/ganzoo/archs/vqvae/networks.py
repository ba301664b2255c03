"""The VQ-VAE's convolutional encoder and decoder (the report's layers, sized by its config)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from ganzoo.archs.vqvae.model import VQVAEConfig


def _conv(c_in: int, c_out: int, stride: int) -> nn.Conv2d:
    """3×3 convolution with "same" padding (stride 2 halves the side, rounding up)."""
    return nn.Conv2d(c_in, c_out, 3, stride, padding=1)


def _deconv(c_in: int, c_out: int, stride: int) -> nn.ConvTranspose2d:
    """3×3 transposed convolution with Keras' "same" padding: the side times ``stride``."""
    return nn.ConvTranspose2d(c_in, c_out, 3, stride, padding=1, output_padding=stride - 1)


class VQVAEEncoder(nn.Module):
    """3×3 convolutions with ReLU, then a linear 1×1 convolution to ``code_dim`` channels."""

    def __init__(self, config: VQVAEConfig) -> None:
        super().__init__()
        widths = [config.channels, *config.encoder_widths]
        layers: list[nn.Module] = []
        steps = zip(widths[:-1], widths[1:], config.encoder_strides, strict=True)
        for c_in, c_out, stride in steps:
            layers += [_conv(c_in, c_out, stride), nn.ReLU()]
        layers.append(nn.Conv2d(widths[-1], config.code_dim, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder outputs ``z_e`` ``(N, code_dim, h, w)`` of images ``(N, C, H, W)``."""
        return self.body(x)


class VQVAEDecoder(nn.Module):
    """3×3 transposed convolutions with ReLU, then a linear one to the image's channels."""

    def __init__(self, config: VQVAEConfig) -> None:
        super().__init__()
        widths = [config.code_dim, *config.decoder_widths]
        layers: list[nn.Module] = []
        steps = zip(widths[:-1], widths[1:], config.decoder_strides, strict=True)
        for c_in, c_out, stride in steps:
            layers += [_deconv(c_in, c_out, stride), nn.ReLU()]
        layers.append(_deconv(widths[-1], config.channels, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, z_q: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``(N, C, H, W)``: pixel values (``mse``) or logits (``bernoulli``)."""
        return self.body(z_q)
