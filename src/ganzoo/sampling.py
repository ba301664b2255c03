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
        yield images.cpu()


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
