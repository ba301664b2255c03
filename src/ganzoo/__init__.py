"""ganzoo: a PyTorch zoo of the generative models of one course report.

Semi-supervised GAN, its CNN baseline, VAE-GAN, DCGAN, WGAN, WGAN-GP and VQ-VAE,
with pretrained weights, Hub loading, trainers and a CLI.

The public API is small and importing it is light (torch loads on first use)::

    import ganzoo
    ganzoo.list_pretrained()
    model = ganzoo.from_pretrained("sgan-mnist-100")
    images = model.sample(64, seed=0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganzoo._version import __version__
from ganzoo.catalog import list_pretrained
from ganzoo.errors import GanzooError
from ganzoo.registry import create_model, get_trainer, list_models

if TYPE_CHECKING:
    from pathlib import Path

    from ganzoo.models.base import ZooModel

__all__ = [
    "GanzooError",
    "__version__",
    "create_model",
    "from_pretrained",
    "get_trainer",
    "list_models",
    "list_pretrained",
]


def from_pretrained(name_or_path: str | Path, **options: Any) -> ZooModel:
    """Load a pretrained model by bundled name, Hub repo id or local folder.

    A thin alias of :func:`ganzoo.hub.from_pretrained`, which documents every option
    (``revision``, ``device``, ``cache_dir``, ``token``...).

    Examples:
        >>> import ganzoo
        >>> model = ganzoo.from_pretrained("sgan-mnist-100")  # doctest: +SKIP

    """
    from ganzoo.hub import from_pretrained as _from_pretrained

    return _from_pretrained(name_or_path, **options)
