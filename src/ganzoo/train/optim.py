"""Optimisers chosen by name, so that a recipe can say "RMSprop for D, Adam for G"."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from ganzoo.errors import GanzooError, did_you_mean


def _adam(params: Any, lr: float, betas: tuple[float, float], fused: bool) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr, betas=betas, **({"fused": True} if fused else {}))


def _rmsprop(
    params: Any, lr: float, betas: tuple[float, float], fused: bool
) -> torch.optim.Optimizer:
    del betas, fused  # RMSprop has no momentum betas and no fused kernel
    return torch.optim.RMSprop(params, lr=lr)


#: Optimisers by name: ``adam`` (betas from the config) and ``rmsprop`` (as in WGAN).
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": _adam,
    "rmsprop": _rmsprop,
}


def check_optimizer_name(name: str, field: str) -> None:
    """Raise a one-line :class:`GanzooError` if ``name`` is not in :data:`OPTIMIZERS`."""
    if name not in OPTIMIZERS:
        raise GanzooError(
            f"{field} must be one of {', '.join(OPTIMIZERS)}, got '{name}'"
            f"{did_you_mean(name, OPTIMIZERS)}"
        )


def make_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    lr: float,
    betas: tuple[float, float],
    device: torch.device,
) -> torch.optim.Optimizer:
    """Build optimiser ``name`` over ``params`` (Adam's fused kernel on CUDA).

    Raises:
        GanzooError: for an unknown name.

    """
    check_optimizer_name(name, "optimizer")
    return OPTIMIZERS[name](params, lr, betas, device.type == "cuda")


def linear_decay(
    optimizers: dict[str, torch.optim.Optimizer], steps: int, start: float
) -> dict[str, torch.optim.lr_scheduler.LambdaLR]:
    """Salimans et al.'s schedule: each rate constant, then linearly to zero from ``start``.

    ``start`` is the fraction of ``steps`` after which the decay begins; ``>= 1``: no
    schedulers (an empty dict).
    """
    if start >= 1.0:
        return {}
    first = int(start * steps)

    def factor(step: int) -> float:
        return 1.0 if step < first else max(0.0, (steps - step) / max(1, steps - first))

    return {
        name: torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        for name, optimizer in optimizers.items()
    }
