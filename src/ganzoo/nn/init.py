"""Weight initialisers."""

from __future__ import annotations

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
