"""Measuring a VQ-VAE: reconstruction, codebook usage and its prior's likelihood, in one pass."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ganzoo.data import ImageDataset, iterate_batches
from ganzoo.errors import GanzooError
from ganzoo.metrics.reconstruction import psnr_from_mse

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel


@torch.no_grad()
def vq_metrics(model: ZooModel, data: ImageDataset, batch_size: int = 500) -> dict[str, float]:
    """A VQ-VAE on ``data`` in one pass: reconstruction, codebook usage and the prior's NLL.

    Returns:
        ``mse`` and ``psnr`` (dB) of ``decode(encode(x))`` as
        :func:`~ganzoo.metrics.reconstruction.reconstruction_error` measures them;
        ``perplexity``, ``exp(H(p))`` of the frequencies ``p`` of the codes over the whole
        of ``data`` (1 to K), and ``used_codes``, the number of codes used at least once;
        with a prior, ``prior_bits_per_dim``, its negative log-likelihood of the code
        grids in bits per code (``log2 K`` for a uniform prior).

    Raises:
        GanzooError: for an empty data set.

    """
    if len(data) == 0:
        raise GanzooError(f"data set '{data.name}' is empty; nothing to measure")
    device, k = model.device, int(model.config.num_codes)
    squared = torch.zeros((), dtype=torch.float64, device=device)
    nll = torch.zeros((), dtype=torch.float64, device=device)
    counts = torch.zeros(k, dtype=torch.long, device=device)
    prior = getattr(model, "prior", None)
    positions = 0
    for images, _ in iterate_batches(data, batch_size, device):
        codes = model.encode(images)
        rebuilt = model.decode(codes).float()
        squared += (rebuilt - images).pow(2).mean(dim=(1, 2, 3)).sum().double()
        flat = codes.flatten()
        counts.scatter_add_(0, flat, torch.ones_like(flat))  # no host sync, unlike bincount
        positions += flat.numel()
        if prior is not None:
            logits = prior(codes).float()
            nll += F.cross_entropy(logits, codes, reduction="sum").double()
    mse = squared.item() / len(data)
    probs = counts.double() / positions
    results = {
        "mse": mse,
        "psnr": psnr_from_mse(mse),
        "perplexity": torch.exp(-torch.special.xlogy(probs, probs).sum()).item(),
        "used_codes": int((counts > 0).sum()),
    }
    if prior is not None:
        results["prior_bits_per_dim"] = nll.item() / positions / math.log(2.0)
    return results
