"""Weight initialisers."""

from __future__ import annotations

import torch
from torch import nn


def keras_init_(module: nn.Module) -> nn.Module:
    """Initialise like Keras' defaults: Glorot-uniform weights and zero biases.

    The course report built its networks in Keras; this makes the report presets start
    from the same distribution. Applies to every Linear and (transposed) convolution.
    """
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(sub.weight)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
    return module


@torch.no_grad()
def data_dependent_init_(module: nn.Module, x: torch.Tensor, scale: float = 1.0) -> nn.Module:
    """Rescale every Linear and Conv2d so its outputs on ``x`` have zero mean, unit std.

    Salimans & Kingma (2016)'s data-dependent initialisation, for layers without weight
    normalisation: layer by layer, in order, each output channel's weights are divided by
    the standard deviation of its pre-activations on the batch ``x`` (times ``scale``)
    and its bias set so their mean is zero. The parameter count does not change. The
    module runs in eval mode (no dropout or noise) while it is measured.
    """
    layers = [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    was_training = module.training
    module.eval()
    for layer in layers:
        seen: list[torch.Tensor] = []
        handle = layer.register_forward_hook(lambda _m, _i, out, seen=seen: seen.append(out))
        try:
            module(x)
        finally:
            handle.remove()
        out = seen[0].float()
        dims = [0, 2, 3] if out.dim() == 4 else [0]
        mean, std = out.mean(dim=dims), out.std(dim=dims).clamp_min(1e-6)
        factor = scale / std
        layer.weight.mul_(factor.view(-1, *([1] * (layer.weight.dim() - 1))).to(layer.weight))
        if layer.bias is not None:
            layer.bias.copy_(((layer.bias - mean) * factor).to(layer.bias))
    module.train(was_training)
    return module
