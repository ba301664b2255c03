"""Data sets of integer code grids: what a VQ-VAE's prior is trained on.

A :class:`CodeGridDataset` holds the code grids ``(N, h, w)`` (``torch.long``) of a
whole image data set, made once by encoding it with a VQ-VAE
(:meth:`CodeGridDataset.encode`: in batches, without gradients, in eval mode) and kept
where they were made, normally the training device. :class:`~ganzoo.data.DeviceBatcher`
draws random batches of them exactly as it draws images (returned as they are, not
scaled), so the prior's training loop does no host work either.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from ganzoo.data.batching import iterate_batches
from ganzoo.data.dataset import ImageDataset
from ganzoo.errors import GanzooError

__all__ = ["CodeGridDataset"]


@dataclasses.dataclass
class CodeGridDataset:
    """A whole data set of integer code grids, held in memory.

    Attributes:
        codes: ``int64`` tensor ``(N, h, w)`` of code indices in ``[0, num_codes)``.
        labels: ``int64`` tensor ``(N,)`` (the images' labels), or ``None``.
        name: the name of the image data set the codes were made from.
        num_codes: ``K``, the size of the codebook the indices point into.

    Examples:
        >>> codes = CodeGridDataset.encode(model, load_dataset("mnist"))  # doctest: +SKIP
        >>> codes.codes.shape  # doctest: +SKIP
        torch.Size([60000, 7, 7])

    """

    codes: torch.Tensor
    labels: torch.Tensor | None
    name: str
    num_codes: int

    def __post_init__(self) -> None:
        if self.codes.dtype != torch.int64 or self.codes.dim() != 3:
            raise ValueError(
                "CodeGridDataset.codes must be an int64 tensor of shape (N, h, w), got "
                f"{self.codes.dtype} {tuple(self.codes.shape)}"
            )
        if self.labels is not None and (
            self.labels.dtype != torch.int64 or self.labels.shape != (len(self.codes),)
        ):
            raise ValueError(
                f"CodeGridDataset.labels must be an int64 tensor of shape ({len(self.codes)},)"
                f", got {self.labels.dtype} {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __repr__(self) -> str:
        return (
            f"CodeGridDataset(name={self.name!r}, n={len(self)}, "
            f"grid={tuple(self.codes.shape[1:])}, num_codes={self.num_codes}, "
            f"device={self.codes.device})"
        )

    @property
    def grid(self) -> tuple[int, int]:
        """``(h, w)`` of one code grid."""
        return int(self.codes.shape[1]), int(self.codes.shape[2])

    @classmethod
    @torch.no_grad()
    def encode(
        cls,
        model: Any,
        data: ImageDataset,
        batch_size: int = 500,
        device: torch.device | str | None = None,
    ) -> CodeGridDataset:
        """Encode every image of ``data`` with ``model.encode``, in order.

        Runs in batches, without gradients and in eval mode (the model's mode is put
        back afterwards), so nothing of the model changes.

        Args:
            model: a VQ-VAE (``encode(x)`` gives code grids; ``config.num_codes``).
            data: the images.
            batch_size: images per forward pass.
            device: where to run and keep the codes (default: the model's device).

        Raises:
            GanzooError: for an empty data set or a bad batch size.

        """
        if len(data) == 0:
            raise GanzooError(f"data set {data.name!r} is empty; there is nothing to encode")
        device = torch.device(device) if device is not None else model.device
        was_training = model.training
        model.eval()
        try:
            parts = [model.encode(x) for x, _ in iterate_batches(data, batch_size, device)]
        finally:
            model.train(was_training)
        labels = None if data.labels is None else data.labels.to(device)
        return cls(torch.cat(parts).long(), labels, data.name, int(model.config.num_codes))

    def to(self, device: torch.device | str) -> CodeGridDataset:
        """A copy whose tensors live on ``device``."""
        labels = None if self.labels is None else self.labels.to(device)
        return dataclasses.replace(self, codes=self.codes.to(device), labels=labels)
