"""Reusable layers and initialisers: the vector quantiser and the gated PixelCNN of the VQ-VAE."""

from ganzoo.nn.pixelcnn import PRIOR_PRESETS, GatedPixelCNN, GatedPixelCNNConfig
from ganzoo.nn.vq import VectorQuantizer, VQOutput

__all__ = ["PRIOR_PRESETS", "GatedPixelCNN", "GatedPixelCNNConfig", "VQOutput", "VectorQuantizer"]
