"""Measuring models: every metric of ganzoo, one module per job.

- :mod:`ganzoo.metrics.classification`: accuracy, the confusion matrix and its
  largest confusions.
- :mod:`ganzoo.metrics.reconstruction`: mean squared error and PSNR of a model that
  reconstructs.
- :mod:`ganzoo.metrics.evaluate`: :func:`~ganzoo.metrics.evaluate.evaluate_model`,
  every measure a model supports on a data set (``ganzoo eval`` without
  ``--metric``); a VQ-VAE's codebook measures are its own
  (:mod:`ganzoo.archs.vqvae.metrics`).
- :mod:`ganzoo.metrics.fid`: FID and KID of a generator against a real set, and the
  data set's own floor.
- :mod:`ganzoo.metrics.feature_cache`: the real set's features for FID and KID,
  cached on disk.
- :mod:`ganzoo.metrics.features`: the table of feature networks (``inception-tf``,
  ``mnist-classifier``, ``pixels8``) and embedding images with them.
- :mod:`ganzoo.metrics.sample_quality`: reading generated digits with the MNIST
  classifier (confidence, class balance, agreement) and the MNIST FID's floor.
- :mod:`ganzoo.metrics.networks`: the networks that measure, shipped with the
  package (the MNIST classifier's weights and the record of its training).
- :mod:`ganzoo.metrics.eval_plan`: which ``ganzoo eval`` options go together.

Importing the package imports nothing (no torch); import the module you need.
"""
