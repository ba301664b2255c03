"""Writing files: one atomic writer, and the formats written through it.

- :mod:`ganzoo.io.atomic`: the one implementation of "a temporary name, then a
  rename" for files and folders (exclusive temporary names, fsync on request,
  cleanup on failure, refusal to overwrite), and the one-line errors of a failed
  write. Every other writer of ganzoo calls it.
- :mod:`ganzoo.io.images`: image grids and saved samples (a grid image, ``.npy`` /
  ``.npz`` arrays or a folder of PNGs), with the checks made before any work.
- :mod:`ganzoo.io.pictures`: inputs above their reconstructions (the VAE-GAN's and
  the VQ-VAE's figures).

Importing the package imports nothing; :mod:`ganzoo.io.atomic` needs only the
standard library.
"""
