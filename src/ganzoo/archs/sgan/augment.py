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


def _resample(
    x: torch.Tensor, theta: torch.Tensor, displacement: torch.Tensor | None, fill: float
) -> torch.Tensor:
    """Bilinear ``grid_sample`` of ``x`` on the grid of ``theta`` moved by ``displacement``."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if displacement is not None:
        grid = grid + displacement
    # grid_sample pads with zeros: sample x - fill so the padding lands on ``fill``.
    moved = F.grid_sample(x - fill, grid.to(x.dtype), mode="bilinear", align_corners=False)
    return moved + fill


def random_affine(
    x: torch.Tensor,
    degrees: float,
    scale: tuple[float, float] = (1.0, 1.0),
    max_shift: float = 0.0,
    generator: torch.Generator | None = None,
    fill: float = -1.0,
    displacement: torch.Tensor | None = None,
) -> torch.Tensor:
    """Rotate by ``±degrees``, scale by a factor in ``scale`` and shift by ``±max_shift`` px.

    One ``affine_grid`` + bilinear ``grid_sample`` for the whole batch; uncovered pixels
    get ``fill``. A ``displacement`` field (from :func:`elastic_displacement`) is added to
    the same sampling grid, so an affine and an elastic distortion cost one resampling.
    """
    n, _, h, w = x.shape
    device = x.device

    def uniform(low: float, high: float) -> torch.Tensor:
        u = torch.rand(n, generator=generator, device=device)
        return low + (high - low) * u

    angle = uniform(-degrees, degrees) * (torch.pi / 180.0)
    factor = uniform(*scale)
    shift_x = uniform(-max_shift, max_shift) * (2.0 / w)
    shift_y = uniform(-max_shift, max_shift) * (2.0 / h)
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    theta = torch.stack(
        [torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1
    ).to(x.dtype)
    return _resample(x, theta, displacement, fill)


def random_erase(
    x: torch.Tensor, size: int, generator: torch.Generator | None = None, fill: float = -1.0
) -> torch.Tensor:
    """Cutout: set one random ``size``×``size`` square of each image to ``fill``.

    The square's centre is uniform over the image, so it may be clipped at the border.
    """
    if size <= 0:
        return x
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n, 1, 1), generator=generator, device=x.device)
    cx = torch.randint(0, w, (n, 1, 1), generator=generator, device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - size // 2, cx - size // 2
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return x.masked_fill(inside.unsqueeze(1), fill)


def elastic_displacement(
    shape: torch.Size | tuple[int, ...],
    alpha: float,
    sigma: float = 4.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor | None:
    """Random displacement field of Simard et al. 2003 for images of ``shape`` (N, C, H, W).

    Uniform noise in ``[-1, 1]`` per pixel and axis, smoothed by a Gaussian of ``sigma``
    pixels (one separable blur) and scaled by ``alpha`` pixels; returned as (N, H, W, 2)
    in ``grid_sample``'s normalised coordinates, or ``None`` when ``alpha <= 0``.
    """
    if alpha <= 0:
        return None
    n, _, h, w = shape
    field = torch.rand(n * 2, 1, h, w, generator=generator, device=device) * 2 - 1
    radius = max(1, int(3 * sigma))
    taps = torch.arange(-radius, radius + 1, device=device, dtype=field.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    field = F.conv2d(field, kernel.view(1, 1, 1, -1), padding=(0, radius))
    field = F.conv2d(field, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    # Pixels to grid_sample's normalised coordinates: the image spans 2 units.
    scale = torch.tensor([2.0 / w, 2.0 / h], device=device)
    return field.view(n, 2, h, w).permute(0, 2, 3, 1) * alpha * scale
