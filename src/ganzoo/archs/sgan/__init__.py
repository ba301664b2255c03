"""The semi-supervised GAN family.

The semi-supervised GAN family: SGAN, its CNN baseline, the conditional generator,
the labeled-data component (also used by the VAE-GAN's classifier) and its augmentation.

Imports nothing: import the module you need.
"""
