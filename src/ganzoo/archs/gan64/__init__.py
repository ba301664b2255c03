"""DCGAN, WGAN and WGAN-GP at 64×64.

DCGAN, WGAN and WGAN-GP at 64×64: their networks and presets (``model``) and recipes
(``train``); the GAN step they share is :mod:`ganzoo.train.gan`.

Imports nothing: import the module you need.
"""
