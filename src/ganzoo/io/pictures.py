"""Pictures of reconstructions: inputs above what a model rebuilds of them.

Shared by the models that ``reconstruct`` (the VAE-GAN, the VQ-VAE); a VQ-VAE's
third row, its code-index maps, comes from :mod:`ganzoo.archs.vqvae.visuals`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ganzoo.io.atomic import check_new_file
from ganzoo.io.images import save_grid

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel


@torch.no_grad()
def reconstruction_panel(model: ZooModel, images: torch.Tensor) -> torch.Tensor:
    """Inputs above their reconstructions (and a VQ-VAE's code maps), as RGB pictures.

    The report's figures: for ``n`` images, the inputs, then ``model.reconstruct`` of
    them (a VAE-GAN decodes each image's mean code), and for a VQ-VAE a third row of
    its code-index maps (:func:`~ganzoo.archs.vqvae.visuals.code_map_images`):
    ``(2n or 3n, 3, H, W)`` in ``[-1, 1]`` on the CPU, two or three rows when tiled
    ``n`` per row. Grayscale images are shown as RGB.

    Args:
        model: a model that can ``reconstruct`` (a VQ-VAE, a VAE-GAN).
        images: ``(n, C, H, W)`` in ``[-1, 1]``.

    """
    num_codes = getattr(model.config, "num_codes", None)
    was_training = model.training
    model.eval()
    try:
        images = images.to(model.device)
        codes = model.encode(images) if num_codes is not None else None
        rebuilt = model.decode(codes) if codes is not None else model.reconstruct(images)
    finally:
        model.train(was_training)
    rows = [images.float().cpu(), rebuilt.float().cpu()]
    rows = [x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x for x in rows]
    if codes is not None:
        from ganzoo.archs.vqvae.visuals import code_map_images

        rows.append(code_map_images(codes, int(num_codes), images.shape[-1]))
    return torch.cat(rows)


def save_reconstructions(
    model: ZooModel, images: torch.Tensor, path: str | Path, overwrite: bool = False
) -> Path:
    """Write inputs above their reconstructions (above a VQ-VAE's code maps) as one image.

    See :func:`reconstruction_panel`; each row holds the ``n`` images given.

    Raises:
        GanzooError: if ``path`` is not an image file name, exists (without
            ``overwrite``) or cannot be written.

    """
    path = Path(path)
    check_new_file(path, overwrite)
    return save_grid(reconstruction_panel(model, images), path, nrow=len(images))
