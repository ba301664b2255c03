"""Reusable layers and initialisers."""
