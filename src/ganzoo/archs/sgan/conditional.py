"""The SGAN's conditional generator: which classes it is asked for when measured or shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel


def class_order_labels(model: ZooModel, n: int) -> torch.Tensor | None:
    """The classes a conditional generator is asked for when it is measured or shown.

    Every class in turn, in equal consecutive blocks: ``arange(n) * K // n`` for ``K``
    classes (of 100 images and ten classes, ten 0s, then ten 1s...: the rows of a 10×10
    grid). ``None`` for a model without a conditional generator.
    """
    if not getattr(model, "conditional", False):
        return None
    return torch.arange(n) * model.config.num_classes // n
