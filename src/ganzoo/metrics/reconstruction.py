"""Measuring reconstructions: mean squared error and PSNR (the VAE-GAN's and the VQ-VAE's)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ganzoo.data import ImageDataset, iterate_batches

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel

__all__ = ["psnr_from_mse", "reconstruction_error"]


@torch.no_grad()
def reconstruction_error(
    model: ZooModel, data: ImageDataset, batch_size: int = 500
) -> dict[str, float]:
    """Mean squared error (on [-1, 1] pixels) and PSNR of ``model.reconstruct``."""
    device = model.device
    total = torch.zeros((), dtype=torch.float64, device=device)
    for images, _ in iterate_batches(data, batch_size, device):
        total += (
            (model.reconstruct(images).float() - images).pow(2).mean(dim=(1, 2, 3)).sum().double()
        )
    mse = total.item() / len(data)
    return {"mse": mse, "psnr": psnr_from_mse(mse)}


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of a mean squared error measured on ``[-1, 1]`` pixels.

    The PSNR is that of ``[0, 1]`` pixels (peak 1): the ``[-1, 1]`` range is twice as
    wide, so its MSE is four times larger: ``PSNR = 10 log10(4 / mse)``.
    """
    return 10 * math.log10(4.0 / mse) if mse > 0 else math.inf
