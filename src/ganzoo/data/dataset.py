"""The data set type, :class:`ImageDataset`, and the pixel conversions every loader shares."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ganzoo.errors import GanzooError

__all__ = ["ImageDataset", "convert_channels", "resize_square", "to_unit_range"]


@dataclasses.dataclass
class ImageDataset:
    """A whole image data set held in memory.

    Attributes:
        images: ``uint8`` tensor of shape ``(N, C, H, W)``, values 0..255.
        labels: ``int64`` tensor of shape ``(N,)``, or ``None`` for an unlabeled set.
        name: The name the set was loaded under, e.g. ``"mnist"`` or ``"npz:/x/y.npz"``.
        num_classes: Number of classes when labeled, else ``None``.
        classes: Optional class names, ``classes[i]`` naming label ``i``.

    Examples:
        >>> ds = load_dataset("mnist", "test")  # doctest: +SKIP
        >>> ds.images.shape, ds.num_classes  # doctest: +SKIP
        (torch.Size([10000, 1, 28, 28]), 10)

    """

    images: torch.Tensor
    labels: torch.Tensor | None
    name: str
    num_classes: int | None
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                "ImageDataset.images must be a uint8 tensor of shape (N, C, H, W), got "
                f"{self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.labels is not None and (
            self.labels.dtype != torch.int64 or self.labels.shape != (len(self.images),)
        ):
            raise ValueError(
                f"ImageDataset.labels must be an int64 tensor of shape ({len(self.images)},)"
                f", got {self.labels.dtype} {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        return (
            f"ImageDataset(name={self.name!r}, n={len(self)}, "
            f"shape={tuple(self.images.shape[1:])}, num_classes={self.num_classes}, "
            f"device={self.images.device})"
        )

    @property
    def image_size(self) -> int:
        """Image height ``H`` in pixels (the images are square for every built-in set)."""
        return int(self.images.shape[2])

    @property
    def channels(self) -> int:
        """Number of channels ``C``: 1 for grayscale, 3 for RGB."""
        return int(self.images.shape[1])

    def to(self, device: torch.device | str) -> ImageDataset:
        """Return a copy whose tensors live on ``device``.

        Args:
            device: Target device, e.g. ``"cuda"``.

        Returns:
            A new :class:`ImageDataset`; ``self`` is left unchanged.

        """
        labels = None if self.labels is None else self.labels.to(device)
        return dataclasses.replace(self, images=self.images.to(device), labels=labels)

    def subset(self, indices: torch.Tensor | Sequence[int]) -> ImageDataset:
        """Return the examples at ``indices`` as a new data set.

        Args:
            indices: Integer indices (tensor or sequence), or a boolean mask of length ``N``.

        Returns:
            A new :class:`ImageDataset` with the same name, class count and class names.

        """
        idx = torch.as_tensor(indices, device=self.images.device)
        if idx.dtype != torch.bool:
            idx = idx.long()
        labels = None if self.labels is None else self.labels[idx]
        return dataclasses.replace(self, images=self.images[idx], labels=labels)


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """Convert ``uint8`` images (0..255) to ``float32`` in ``[-1, 1]`` on the same device.

    Args:
        images: ``uint8`` tensor of any shape.

    Returns:
        ``images.float() / 127.5 - 1``; 0 maps to exactly -1 and 255 to exactly 1.

    """
    return images.to(torch.float32).div_(127.5).sub_(1.0)


def check_image_size(size: object) -> int | None:
    """Return ``size`` if it is ``None`` or a positive integer, else raise a GanzooError."""
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise GanzooError(f"image_size must be a positive integer, got {size!r}")
    return size


def check_channels(channels: object) -> int | None:
    """Return ``channels`` if it is ``None``, 1 or 3, else raise a GanzooError."""
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise GanzooError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
    return channels  # type: ignore[return-value]


def resize_square(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """Resize uint8 ``(N, C, H, W)`` images to ``size x size``.

    Non-square images are center-cropped to a square first; the resize is antialiased
    bicubic, done in chunks so a large set never needs a full float copy.

    Args:
        images: ``uint8`` images ``(N, C, H, W)``.
        size: Output side length; ``None`` keeps the images as they are.

    Returns:
        ``uint8`` images ``(N, C, size, size)`` (``images`` itself when nothing changes).

    """
    size = check_image_size(size)
    if size is None:
        return images
    h, w = images.shape[-2:]
    if h == size and w == size:
        return images
    if h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        images = images[..., top : top + side, left : left + side]
        if side == size:
            return images.contiguous()
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    chunk = max(1, (1 << 24) // max(1, images.shape[1] * max(size, h) * max(size, w)))
    for start in range(0, images.shape[0], chunk):
        x = images[start : start + chunk].to(torch.float32)
        y = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
        out[start : start + chunk] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def convert_channels(images: torch.Tensor, channels: int | None) -> torch.Tensor:
    """Convert uint8 ``(N, C, H, W)`` images to 1 (grayscale) or 3 (RGB) channels.

    Grayscale becomes RGB by repeating the plane; RGB becomes grayscale with the ITU-R
    601-2 luma weights in the same fixed-point arithmetic as Pillow's ``convert("L")``,
    so a folder and an ``.npz`` of the same pictures give the same pixels. An alpha
    channel (C = 4) is dropped.

    Args:
        images: ``uint8`` images with C in 1, 3 or 4.
        channels: 1, 3, or ``None`` to keep the images as they are.

    Returns:
        ``uint8`` images ``(N, channels, H, W)`` (``images`` itself when nothing changes).

    """
    channels = check_channels(channels)
    if channels is None or images.shape[1] == channels:
        return images
    if images.shape[1] == 4:
        images = images[:, :3]
    if channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous() if images.shape[1] == 1 else images
    if images.shape[1] == 1:
        return images
    rgb = images.to(torch.int32)
    luma = (rgb[:, 0] * 19595 + rgb[:, 1] * 38470 + rgb[:, 2] * 7471 + 0x8000) >> 16
    return luma.unsqueeze(1).to(torch.uint8)
