"""Architectures of the zoo; importing this package registers them all."""
