"""Architectures of the zoo; importing this package registers them all."""

from ganzoo.models import classifier, dcgan, sgan, vaegan, vqvae  # noqa: F401
