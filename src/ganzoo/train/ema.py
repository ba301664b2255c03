"""Exponential moving average of a network's weights (Polyak averaging)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow = decay * shadow + (1 - decay) * weights`` of a module.

    The averaged generator usually samples better than the raw one (Yazıcı et al. 2019,
    "The Unusual Effectiveness of Averaging in GAN Training"), and an averaged classifier
    is usually more accurate. Buffers (e.g. BatchNorm statistics) are copied, not averaged.

    The decay warms up as ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates (as
    TensorFlow's ``ExponentialMovingAverage`` with ``num_updates``), so early averages
    are not dominated by the random initial weights.

    Args:
        module: the network to follow.
        decay: averaging factor per update, e.g. 0.999.

    """

    def __init__(self, module: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self._source = module
        self.num_updates = 0

    @torch.no_grad()
    def update(self) -> None:
        """Move the average one step towards the followed module's current weights."""
        self.num_updates += 1
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        shadow = list(self.module.parameters())
        current = [p.detach() for p in self._source.parameters()]
        torch._foreach_lerp_(shadow, current, 1.0 - decay)
        for mine, theirs in zip(self.module.buffers(), self._source.buffers(), strict=True):
            mine.copy_(theirs)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights and buffers."""
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore averaged weights (strict)."""
        self.module.load_state_dict(state, strict=True)
