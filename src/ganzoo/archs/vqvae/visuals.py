"""Pictures of a VQ-VAE's codes: one fixed colour per code, code grids as images."""

from __future__ import annotations

import torch

from ganzoo.errors import GanzooError


def code_colors(num_codes: int) -> torch.Tensor:
    """A fixed colour per code, ``(num_codes, 3)`` in ``[0, 1]``.

    Hues step by the golden ratio, so codes with nearby indices get distant hues and
    the regions of a code map stand apart; the same code has the same colour in every
    picture.
    """
    index = torch.arange(num_codes, dtype=torch.float64)
    hue = (index * 0.6180339887498949) % 1.0
    saturation = 0.55 + 0.4 * ((index * 0.7548776662466927) % 1.0)
    value = 0.65 + 0.35 * ((index * 0.5698402909980532) % 1.0)
    # HSV to RGB: channel n takes v - v s max(0, min(k, 4 - k, 1)), k = (n + 6 h) mod 6
    offsets = torch.tensor([5.0, 3.0, 1.0], dtype=torch.float64)
    k = (offsets + hue.unsqueeze(1) * 6.0) % 6.0
    ramp = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    rgb = value.unsqueeze(1) - value.unsqueeze(1) * saturation.unsqueeze(1) * ramp
    return rgb.float()


def code_map_images(codes: torch.Tensor, num_codes: int, size: int) -> torch.Tensor:
    """Code grids ``(N, h, w)`` as RGB pictures ``(N, 3, size, size)`` in ``[-1, 1]``.

    Each position shows its code's colour (:func:`code_colors`), enlarged to ``size`` by
    nearest-neighbour, the report's "code indices as images".

    Raises:
        GanzooError: for a grid that is not integer ``(N, h, w)`` with codes in
            ``[0, num_codes)``.

    """
    if codes.dim() != 3 or codes.dtype.is_floating_point or codes.dtype == torch.bool:
        raise GanzooError(f"codes must be an integer grid (N, h, w), got {tuple(codes.shape)}")
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= num_codes):
        raise GanzooError(f"codes must lie in [0, {num_codes})")
    colors = code_colors(num_codes)[codes.long().cpu()]  # (N, h, w, 3)
    pictures = colors.permute(0, 3, 1, 2) * 2.0 - 1.0
    return torch.nn.functional.interpolate(pictures, size=(size, size), mode="nearest")
