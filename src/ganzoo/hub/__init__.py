"""Where checkpoints come from and go to: local folders, the bundled catalog, the Hub.

The package has one module per job:

- :mod:`ganzoo.hub.weights`: the weights file (``model.safetensors``): written
  atomically, its header checked against the model's tensors before any data is
  read, NaN and infinity refused.
- :mod:`ganzoo.hub.folder`: the checkpoint folder (``config.json``,
  ``model.safetensors``, ``README.md``): read and checked as hostile input, built
  into a model, written, exported with a model card.
- :mod:`ganzoo.hub.download`: a name to a folder, in order an existing local folder,
  a bundled catalog name, then a Hugging Face Hub repo id (downloaded through
  ``huggingface_hub``); :func:`~ganzoo.hub.download.from_pretrained` is the one
  loader behind every other.
- :mod:`ganzoo.hub.upload`: publishing a checkpoint folder to the Hub.

Every public name of these modules is importable from ``ganzoo.hub`` itself (e.g.
``from ganzoo.hub import from_pretrained``). Importing the package is light:
``torch``, ``safetensors`` and ``huggingface_hub`` load when a function needs them.
"""

from __future__ import annotations

from ganzoo.hub.download import (
    DEFAULT_TIMEOUT,
    MAX_REPO_ID_LENGTH,
    from_pretrained,
    hub_timeout,
    network_error,
    resolve,
    validate_repo_id,
)
from ganzoo.hub.folder import (
    CARD_NAME,
    CONFIG_NAME,
    MAX_CONFIG_BYTES,
    ONLINE_WEIGHTS_NAME,
    WEIGHTS_NAME,
    export_pretrained,
    load_folder,
    read_hub_config,
    write_checkpoint,
)
from ganzoo.hub.upload import UPLOAD_FILES, UPLOAD_SUFFIXES, push, upload_files
from ganzoo.hub.weights import (
    check_finite,
    check_weights_fit,
    load_weights_strict,
    read_weights_header,
    save_weights,
)

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "DEFAULT_TIMEOUT",
    "MAX_CONFIG_BYTES",
    "MAX_REPO_ID_LENGTH",
    "ONLINE_WEIGHTS_NAME",
    "UPLOAD_FILES",
    "UPLOAD_SUFFIXES",
    "WEIGHTS_NAME",
    "check_finite",
    "check_weights_fit",
    "export_pretrained",
    "from_pretrained",
    "hub_timeout",
    "load_folder",
    "load_weights_strict",
    "network_error",
    "push",
    "read_hub_config",
    "read_weights_header",
    "resolve",
    "save_weights",
    "upload_files",
    "validate_repo_id",
    "write_checkpoint",
]
