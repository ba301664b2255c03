"""Batching: random mini-batches drawn on the device, and ordered passes for evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch

from ganzoo.data.dataset import ImageDataset, to_unit_range
from ganzoo.errors import GanzooError

__all__ = ["DeviceBatcher", "ExampleSet", "iterate_batches"]


class ExampleSet(Protocol):
    """What a batcher draws from: an :class:`ImageDataset`, or integer grids in ``codes``.

    A set that is not an :class:`ImageDataset` (a VQ-VAE's code grids) has a ``codes``
    tensor whose rows come out as they are (not scaled).
    """

    name: str
    labels: torch.Tensor | None

    def __len__(self) -> int: ...


def _resolve_device(device: torch.device | str) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


class DeviceBatcher:
    """Random mini-batches drawn on the device from a device-resident data set.

    The images (``uint8``) and labels are copied to ``device`` once. Each batch is drawn
    with replacement by ``torch.randint`` on a generator that lives on the same device,
    gathered and scaled to ``[-1, 1]`` there: a training step does no host work and no
    host-device copy. A :class:`~ganzoo.archs.vqvae.codes.CodeGridDataset` is batched the same
    way; its integer code grids come out as they are (``int64``, not scaled).

    Every draw comes from ``generator`` and nothing else, so the generator's state is the
    batcher's whole state: the trainer checkpoints the generator it passes in
    (``Trainer.make_batcher``), and a resumed run draws exactly the batches the
    uninterrupted run would have.

    Args:
        dataset: The data set to draw from: images or code grids.
        batch_size: Examples per batch.
        device: Where the data and the generator live.
        generator: A generator on ``device`` to use; by default a new one seeded with ``seed``.
        seed: Seed for the default generator.

    Examples:
        >>> batcher = DeviceBatcher(load_dataset("mnist"), 64, "cuda")  # doctest: +SKIP
        >>> x, y = batcher.next()  # x: (64, 1, 28, 28) float32 in [-1, 1] on the GPU

    """

    def __init__(
        self,
        dataset: ExampleSet,
        batch_size: int,
        device: torch.device | str,
        generator: torch.Generator | None = None,
        seed: int = 0,
    ) -> None:
        if batch_size < 1:
            raise GanzooError(f"batch_size must be at least 1, got {batch_size}")
        if len(dataset) == 0:
            raise GanzooError(f"data set {dataset.name!r} is empty; nothing to draw batches from")
        self.device = _resolve_device(device)
        self.batch_size = int(batch_size)
        is_images = isinstance(dataset, ImageDataset)
        #: Every example, on the device: uint8 images or int64 code grids.
        self.examples = (dataset.images if is_images else dataset.codes).to(self.device)
        self._scale = to_unit_range if is_images else None
        self.labels = None if dataset.labels is None else dataset.labels.to(self.device)
        self.num_examples = len(dataset)
        if generator is None:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(int(seed))
        elif generator.device.type != self.device.type:
            raise GanzooError(
                f"the generator is on {generator.device} but the data is on {self.device}; "
                f"create it with torch.Generator(device={str(self.device)!r})"
            )
        self.generator = generator

    def __len__(self) -> int:
        return self.num_examples

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Draw one random batch.

        Returns:
            ``(examples, labels)``: ``float32`` images ``(batch_size, C, H, W)`` in
            ``[-1, 1]`` (or ``int64`` code grids ``(batch_size, h, w)``) and ``int64``
            labels ``(batch_size,)`` (``None`` if unlabeled), both on the device.

        """
        idx = torch.randint(
            self.num_examples, (self.batch_size,), device=self.device, generator=self.generator
        )
        x = self.examples[idx] if self._scale is None else self._scale(self.examples[idx])
        y = None if self.labels is None else self.labels[idx]
        return x, y

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.next()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        while True:
            yield self.next()


def iterate_batches(
    dataset: ImageDataset, batch_size: int, device: torch.device | str = "cpu"
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Iterate once over a data set in order, for evaluation.

    Args:
        dataset: The data set (on any device).
        batch_size: Images per batch; the last batch holds the remainder.
        device: Where to put the batches.

    Yields:
        ``(images, labels)``: ``float32`` images in ``[-1, 1]`` and ``int64`` labels (or
        ``None``), on ``device``, covering every example exactly once in index order.

    """
    if batch_size < 1:
        raise GanzooError(f"batch_size must be at least 1, got {batch_size}")
    for start in range(0, len(dataset), batch_size):
        x = dataset.images[start : start + batch_size].to(device)
        y = None
        if dataset.labels is not None:
            y = dataset.labels[start : start + batch_size].to(device)
        yield to_unit_range(x), y
