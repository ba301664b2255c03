"""Differentiable augmentation for data-efficient GAN training (Zhao et al. 2020, DiffAugment).

The same random, differentiable transformations are applied to real *and*
generated images before the discriminator sees them, in both the discriminator's
and the generator's updates, so that D cannot memorise a small training set while
G still receives gradients through the augmentation. The three policies follow the
authors' reference code (``DiffAugment_pytorch.py``): ``color`` (brightness,
saturation, contrast), ``translation`` (up to 1/8 of the image, zero padded) and
``cutout`` (a zeroed square of half the image side).

Images are expected in ``[-1, 1]``; every draw takes an explicit
``torch.Generator`` so a training run is reproducible and resumable.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganzoo.errors import GanzooError

__all__ = ["POLICIES", "diff_augment", "parse_policy"]


def _rand(x: torch.Tensor, generator: torch.Generator | None, *shape: int) -> torch.Tensor:
    return torch.rand(
        (x.shape[0], *shape), generator=generator, device=x.device, dtype=torch.float32
    ).to(x.dtype)


def _color(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    x = x + (_rand(x, generator, 1, 1, 1) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, generator, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, generator, 1, 1, 1) + 0.5) + mean


def _translation(
    x: torch.Tensor, generator: torch.Generator | None, ratio: float = 0.125
) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dev = x.device
    ty = torch.randint(-sh, sh + 1, (n, 1, 1), generator=generator, device=dev)
    tx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=generator, device=dev)
    rows = (torch.arange(h, device=dev).view(1, h, 1) + ty + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=dev).view(1, 1, w) + tx + 1).clamp(0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1))  # the border row/column of zeros fills the shifted-in area
    batch = torch.arange(n, device=dev).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def _cutout(x: torch.Tensor, generator: torch.Generator | None, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dev = x.device
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=generator, device=dev)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=generator, device=dev)
    rows = torch.arange(h, device=dev).view(1, h, 1)
    cols = torch.arange(w, device=dev).view(1, 1, w)
    top, left = oy - ch // 2, ox - cw // 2
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


#: The augmentations by policy name, in the order they are applied.
POLICIES: dict[str, Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]] = {
    "color": _color,
    "translation": _translation,
    "cutout": _cutout,
}


def parse_policy(policy: str) -> tuple[str, ...]:
    """Split ``"color,translation,cutout"`` into its names; ``""`` means none.

    Raises:
        GanzooError: for an unknown name, listing the known ones.

    """
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    for name in names:
        if name not in POLICIES:
            raise GanzooError(
                f"unknown DiffAugment policy '{name}'; choose from {', '.join(POLICIES)} "
                "(comma-separated, e.g. 'color,translation,cutout')"
            )
    return names


def diff_augment(
    x: torch.Tensor, policy: str | tuple[str, ...], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply the DiffAugment ``policy`` to a batch ``(n, C, H, W)``; differentiable in ``x``.

    Args:
        x: images in ``[-1, 1]``.
        policy: comma-separated names from :data:`POLICIES`, or a tuple of them; empty: none
            (``x`` is returned unchanged, the same tensor).
        generator: random generator for the transformations' parameters.

    """
    names = parse_policy(policy) if isinstance(policy, str) else policy
    for name in names:
        x = POLICIES[name](x, generator)
    return x
