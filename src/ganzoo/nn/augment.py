"""Data augmentation done on the device, batched, from a seeded generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_translate(
    x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None, fill: float = -1.0
) -> torch.Tensor:
    """Shift each image by a random whole number of pixels in ``[-max_shift, max_shift]``.

    Uncovered pixels get ``fill`` (the background, -1 for images in [-1, 1]). One gather,
    no Python loop over images.
    """
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    m = max_shift
    padded = F.pad(x, (m, m, m, m), value=fill)
    dy = torch.randint(0, 2 * m + 1, (n, 1, 1), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * m + 1, (n, 1, 1), generator=generator, device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx
    index = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded[index, :, rows, cols].permute(0, 3, 1, 2).contiguous()
