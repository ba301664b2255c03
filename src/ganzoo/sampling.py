"""Drawing images from a model: seeded batches and the classes asked of a generator.

What is drawn here is saved by :mod:`ganzoo.io.images` (``ganzoo sample``) or
measured by :mod:`ganzoo.metrics` (FID, KID, the digit readers).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import torch

from ganzoo.errors import GanzooError

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel

#: The most images per forward pass when sampling; a larger batch only costs memory.
MAX_BATCH_SIZE = 1024


class NonFiniteSamples(GanzooError):
    """A model drew NaN or infinite values: its weights are damaged (see :func:`check_finite`).

    Attributes:
        start: the index of the first image of the batch that held them.

    """

    def __init__(self, name: str, start: int, stop: int) -> None:
        self.start, self.stop = start, stop
        super().__init__(
            f"'{name}' drew NaN or infinite values (images {start}..{stop - 1}) from finite "
            "weights, so nothing was written or scored: its checkpoint is damaged (a "
            "BatchNorm running variance below 0, for one); download or export it again"
        )

    def named(self, name: str) -> NonFiniteSamples:
        """The same error naming the model as the user gave it."""
        return NonFiniteSamples(name, self.start, self.stop)


def check_finite(images: torch.Tensor, model: ZooModel, start: int = 0) -> torch.Tensor:
    """Return ``images``, or refuse them in one line if any value is NaN or infinite.

    One reduction per batch: meant for sampling and metrics, not training steps.

    Raises:
        NonFiniteSamples: naming the model's architecture and the images.

    """
    if not bool(torch.isfinite(images).all()):
        raise NonFiniteSamples(model.architecture, start, start + len(images))
    return images


def sample_batches(
    model: ZooModel,
    n: int,
    batch_size: int,
    seed: int | None = None,
    labels: torch.Tensor | None = None,
) -> Iterator[torch.Tensor]:
    """Draw ``n`` images from ``model`` in batches of ``batch_size``, on the CPU.

    Batch ``i`` uses seed ``seed + i``, so the same seed and batch size give the
    same images on any device. ``labels`` (``n`` class indices, for a conditional
    generator) are handed out batch by batch.

    Raises:
        NonFiniteSamples: for a batch with NaN or infinite values (:func:`check_finite`).

    """
    for i, start in enumerate(range(0, n, batch_size)):
        chunk_seed = None if seed is None else seed + i
        size = min(batch_size, n - start)
        chunk = None if labels is None else labels[start : start + size]
        with torch.inference_mode():
            if chunk is None:
                images = model.sample(size, seed=chunk_seed)
            else:
                images = model.sample(size, seed=chunk_seed, labels=chunk)
        yield check_finite(images, model, start).cpu()


def label_blocks(labels: Sequence[int], n: int) -> torch.Tensor:
    """``n`` labels: the given classes in order, in equal consecutive blocks.

    ``label_blocks([7], 64)`` is 64 sevens; ``label_blocks(range(10), 100)`` is ten of
    each digit, 0s first (the rows of a 10×10 grid). When ``n`` is not a multiple of the
    number of classes, the blocks differ by at most one. Returns an int64 tensor.

    Raises:
        GanzooError: for no labels, or more labels than images.

    """
    given = torch.as_tensor(list(labels), dtype=torch.long)
    if len(given) == 0:
        raise GanzooError("no labels given")
    if len(given) > n:
        raise GanzooError(f"{len(given)} labels for {n} images; draw at least -n {len(given)}")
    return given[torch.arange(n) * len(given) // n]
