"""The architectures, one folder per family; importing a family's ``model`` registers it.

* :mod:`ganzoo.archs.sgan`: the semi-supervised GAN, its CNN baseline, the conditional
  generator, the labeled-data component and its augmentation.
* :mod:`ganzoo.archs.gan64`: DCGAN, WGAN and WGAN-GP at 64×64 (networks and recipes; the
  GAN step itself is shared, :mod:`ganzoo.train.gan`).
* :mod:`ganzoo.archs.vaegan`: the VAE-GAN (its discriminator is the SGAN's).
* :mod:`ganzoo.archs.vqvae`: the VQ-VAE, its quantiser, PixelCNN prior and code data.

A family's ``__init__`` imports nothing, so loading a model for sampling does not
import any trainer.
"""

from __future__ import annotations

import importlib

#: Modules whose import registers the built-in architectures.
MODEL_MODULES = (
    "ganzoo.archs.sgan.model",
    "ganzoo.archs.sgan.cnn",
    "ganzoo.archs.gan64.model",
    "ganzoo.archs.vaegan.model",
    "ganzoo.archs.vqvae.model",
)
#: Modules whose import registers the built-in trainers.
TRAINER_MODULES = (
    "ganzoo.archs.sgan.train",
    "ganzoo.archs.sgan.cnn_train",
    "ganzoo.archs.gan64.train",
    "ganzoo.archs.vaegan.train",
    "ganzoo.archs.vqvae.train",
)


def load_builtins(trainers: bool = False) -> None:
    """Import the built-in architectures (and, if asked, their trainers) so they register."""
    for name in MODEL_MODULES + (TRAINER_MODULES if trainers else ()):
        importlib.import_module(name)
