"""One evaluator: every measure a model supports on a data set.

It is what ``ganzoo eval`` measures without ``--metric``.

The generated-image metrics (FID, KID, the digit readers) are :mod:`ganzoo.metrics.fid`
and :mod:`ganzoo.metrics.sample_quality`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganzoo.errors import GanzooError
from ganzoo.metrics.classification import confusion_matrix, confusion_summary
from ganzoo.metrics.reconstruction import reconstruction_error

if TYPE_CHECKING:
    from ganzoo.data import ImageDataset
    from ganzoo.models.base import ZooModel

__all__ = ["evaluate_model"]


def evaluate_model(model: ZooModel, data: ImageDataset, batch_size: int = 1000) -> dict[str, Any]:
    """Every measure the model supports on ``data``: accuracy, reconstruction error, codes.

    A classifier on labeled data gets ``accuracy`` and, from the same pass over the
    data, each class's accuracy and its largest confusions
    (:func:`~ganzoo.metrics.classification.confusion_summary`); a model that
    reconstructs gets ``mse`` and ``psnr``; a model with a codebook (a
    ``quantizer``: the VQ-VAE) also gets its ``perplexity`` and ``used_codes``, and with a
    ``prior`` the prior's ``prior_bits_per_dim``
    (:func:`~ganzoo.archs.vqvae.metrics.vq_metrics`).

    Raises:
        GanzooError: if the model offers nothing to measure on this data.

    """
    results: dict[str, Any] = {}
    if model.can("classify") and data.labels is not None:
        counts = confusion_matrix(model, data, batch_size)
        results["accuracy"] = counts.trace().item() / len(data)
        results.update(confusion_summary(counts))
    if getattr(model, "quantizer", None) is not None:
        from ganzoo.archs.vqvae.metrics import vq_metrics

        results.update(vq_metrics(model, data, batch_size))
    elif model.can("reconstruct"):
        results.update(reconstruction_error(model, data, batch_size))
    if not results:
        hint = "; for a generator ask for FID/KID (--metric fid,kid)" if model.can("sample") else ""
        raise GanzooError(
            f"nothing to evaluate: '{model.architecture}' cannot classify or reconstruct "
            f"(or '{data.name}' has no labels){hint}"
        )
    return results
