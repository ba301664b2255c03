"""torch.hub entry points: one per pretrained checkpoint bundled with ganzoo.

```python
import torch

print(torch.hub.list("ganzoo/ganzoo"))  # ['cnn_mnist_100', 'dcgan_art64', ...]
model = torch.hub.load("ganzoo/ganzoo", "vqvae_mnist")
images = model.sample(16, seed=0)
```

Each entry is the catalog name with ``-`` turned into ``_`` (``sgan-mnist-100`` is
``sgan_mnist_100``). It takes ``pretrained=True`` and keyword options and returns the
ganzoo model: with ``pretrained=True`` the options go to :func:`ganzoo.from_pretrained`
(``device``, ``revision``...); with ``pretrained=False`` the architecture is built with
the checkpoint's config and fresh weights, and the options (besides ``device``) replace
config fields.

Which ganzoo runs: the copy in ``src/`` beside this file, that is the one of the ref
torch.hub downloaded, so the entries, the code and the bundled weights all come from
that ref, even where another ganzoo version is installed (timm's and pytorch_GAN_zoo's
hubconf also import their package from the repository). Without a ``src/ganzoo`` here
(this file copied alone), the installed ganzoo is used. A ganzoo that the process has
imported already stays the one in use.
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path
from typing import Any as _Any

#: The packages torch.hub checks before calling an entry (import names).
dependencies = ["torch", "torchvision", "huggingface_hub", "safetensors", "numpy"]

_SRC = _Path(__file__).resolve().parent / "src"
if (_SRC / "ganzoo" / "__init__.py").is_file() and str(_SRC) not in _sys.path:
    _sys.path.insert(0, str(_SRC))

import ganzoo as _ganzoo  # noqa: E402  (after the path above)
from ganzoo.catalog import PretrainedInfo as _PretrainedInfo  # noqa: E402
from ganzoo.catalog import load_catalog as _load_catalog  # noqa: E402


def _entry_name(name: str) -> str:
    """The torch.hub entry of catalog name ``name``: ``-`` and ``.`` turned into ``_``."""
    return name.replace("-", "_").replace(".", "_")


def _untrained(info: _PretrainedInfo, options: dict[str, _Any]) -> _Any:
    """The architecture of checkpoint ``info``, built from its config with fresh weights.

    ``options`` holds ``device`` and config fields to change (checked as every config
    is: an unknown field or a bad value is one ``GanzooError`` line).
    """
    from ganzoo.hub.folder import read_hub_config
    from ganzoo.registry import build_model

    device = options.pop("device", None)
    if device is not None:
        from ganzoo.devices import select_device

        device = select_device(device)
    config = read_hub_config(info.folder)
    model = build_model(config["architecture"], {**config["config"], **options})
    return model.to(device) if device is not None else model


def _docstring(info: _PretrainedInfo) -> str:
    """What the entry of ``info`` loads, from its catalog entry."""
    metrics = ", ".join(f"{k} {v}" for k, v in info.metrics.items()) or "none recorded"
    return (
        f"{info.description or info.name}.\n\n"
        f"Architecture ``{info.architecture}``, trained on ``{info.dataset}``; "
        f'``ganzoo.from_pretrained("{info.name}")`` loads the same model.\n'
        f"Measured metrics: {metrics}.\n\n"
        "Args:\n"
        "    pretrained: load the trained weights (``False``: the architecture with this\n"
        "        checkpoint's config and fresh weights).\n"
        "    **kwargs: with ``pretrained=True``, options of ``ganzoo.from_pretrained``\n"
        "        (``device``, ``revision``, ``local_files_only``...); with\n"
        "        ``pretrained=False``, ``device`` and config fields to change.\n\n"
        "Returns:\n"
        "    The ganzoo model (a ``torch.nn.Module``): in eval mode when pretrained, as\n"
        "    built (training mode) otherwise.\n"
    )


def _make_entry(info: _PretrainedInfo) -> _Any:
    """A torch.hub entry point for checkpoint ``info``."""

    def entry(pretrained: bool = True, **kwargs: _Any) -> _Any:
        if pretrained:
            return _ganzoo.from_pretrained(info.name, **kwargs)
        return _untrained(info, dict(kwargs))

    entry.__name__ = entry.__qualname__ = _entry_name(info.name)
    entry.__module__ = __name__
    entry.__doc__ = _docstring(info)
    return entry


for _info in _load_catalog().values():
    if _info.bundled:
        globals()[_entry_name(_info.name)] = _make_entry(_info)
