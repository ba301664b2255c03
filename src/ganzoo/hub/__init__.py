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
- :mod:`ganzoo.hub.preflight`: what a Hub download is about to bring, checked before
  it is taken: the announced size against a limit, the weights' header (read with range
  requests) against the architecture.
- :mod:`ganzoo.hub.upload`: publishing a checkpoint folder to the Hub.
- :mod:`ganzoo.hub.network`: failures talking to a Hub (unreachable, timed out,
  refused with an HTTP status) in one line, credentials in ``HF_ENDPOINT`` masked.

Every public name of these modules is importable from ``ganzoo.hub`` itself (e.g.
``from ganzoo.hub import from_pretrained``). Importing the package is light:
``torch``, ``safetensors`` and ``huggingface_hub`` load when a function needs them.
"""

from __future__ import annotations

from ganzoo.hub.download import (
    MAX_REPO_ID_LENGTH,
    from_pretrained,
    resolve,
    validate_repo_id,
)
from ganzoo.hub.folder import (
    CARD_NAME,
    CONFIG_NAME,
    MAX_CONFIG_BYTES,
    ONLINE_WEIGHTS_NAME,
    WEIGHTS_NAME,
    check_config_fits,
    export_pretrained,
    load_folder,
    parse_hub_config,
    read_hub_config,
    write_checkpoint,
)
from ganzoo.hub.network import (
    DEFAULT_TIMEOUT,
    http_refusal,
    hub_timeout,
    mask_credentials,
    network_error,
)
from ganzoo.hub.preflight import (
    DEFAULT_MAX_DOWNLOAD_BYTES,
    DOWNLOAD_LIMIT_VARIABLE,
    check_before_download,
    max_download_bytes,
)
from ganzoo.hub.upload import UPLOAD_FILES, UPLOAD_SUFFIXES, push, upload_files
from ganzoo.hub.weights import (
    MAX_HEADER_BYTES,
    check_finite,
    check_weights_fit,
    header_length,
    load_weights_strict,
    parse_weights_header,
    read_weights_header,
    save_weights,
)

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_TIMEOUT",
    "DOWNLOAD_LIMIT_VARIABLE",
    "MAX_CONFIG_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_REPO_ID_LENGTH",
    "ONLINE_WEIGHTS_NAME",
    "UPLOAD_FILES",
    "UPLOAD_SUFFIXES",
    "WEIGHTS_NAME",
    "check_before_download",
    "check_config_fits",
    "check_finite",
    "check_weights_fit",
    "export_pretrained",
    "from_pretrained",
    "header_length",
    "http_refusal",
    "hub_timeout",
    "load_folder",
    "load_weights_strict",
    "mask_credentials",
    "max_download_bytes",
    "network_error",
    "parse_hub_config",
    "parse_weights_header",
    "push",
    "read_hub_config",
    "read_weights_header",
    "resolve",
    "save_weights",
    "upload_files",
    "validate_repo_id",
    "write_checkpoint",
]
