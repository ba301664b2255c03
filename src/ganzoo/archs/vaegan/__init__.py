"""The VAE-GAN.

The VAE-GAN: its encoder, decoder and the SGAN's discriminator (``model``), and its
training step and recipes (``train``).

Imports nothing: import the module you need.
"""
