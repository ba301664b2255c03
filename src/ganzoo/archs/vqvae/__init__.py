"""The VQ-VAE and its prior.

The VQ-VAE: networks and presets (``model``), the quantiser (``quantizer``), the gated
PixelCNN prior (``prior``), the code-grid data (``codes``), the two training stages
(``train``).

Imports nothing: import the module you need.
"""
