"""Layers and initialisers that several architectures share (DiffAugment, constraints, init)."""
