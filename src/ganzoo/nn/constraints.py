"""Constraints applied to a network's weights between optimisation steps."""

from __future__ import annotations

import torch


def clip_weights_(module: torch.nn.Module, clip: float) -> None:
    """Clamp every parameter of ``module`` to ``[−clip, clip]`` in place (WGAN's Lipschitz bound).

    Applied after every critic step (Arjovsky et al. 2017, Algorithm 1, c = 0.01).
    """
    with torch.no_grad():
        for param in module.parameters():
            param.clamp_(-clip, clip)
