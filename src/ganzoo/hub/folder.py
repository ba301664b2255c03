"""The checkpoint folder: ``config.json``, ``model.safetensors`` and ``README.md``.

This module knows the folder format, not the model classes: it works on any
``torch.nn.Module`` that has a ``hub_config()`` method, and builds models through
:func:`ganzoo.registry.build_model`. Every file it reads is treated as hostile: the
config is type- and range-checked and the weights' header is compared with the
architecture's shapes before a byte of weights is allocated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.errors import GanzooError
from ganzoo.hub.weights import (
    check_weights_fit,
    load_weights_strict,
    read_weights_header,
    save_weights,
)
from ganzoo.io import atomic

if TYPE_CHECKING:
    import torch
    from torch import nn

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
#: The non-averaged weights of a network kept with an EMA (what a next run trains on;
#: see :mod:`ganzoo.train.init_from`), beside ``model.safetensors``.
ONLINE_WEIGHTS_NAME = "online_weights.safetensors"
#: Largest ``config.json`` read (a ganzoo config is about 1 KB).
MAX_CONFIG_BYTES = 1 << 20


def read_hub_config(folder: str | Path) -> dict[str, Any]:
    """Read and check the shape of a checkpoint folder's ``config.json``.

    The values inside ``config`` are checked when the model is built
    (:func:`ganzoo.registry.build_model`).

    Raises:
        GanzooError: if it is missing, too large, not JSON (or nested absurdly deep), or
            not a ganzoo config.

    """
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise GanzooError(
            f"{folder} has no {CONFIG_NAME}: not a ganzoo checkpoint "
            "(make one with model.save_pretrained(folder) or `ganzoo train`)"
        )
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise GanzooError(
            f"{path} is {size} bytes; a ganzoo config is a few KB: not a ganzoo checkpoint"
        )
    return parse_hub_config(path.read_bytes(), str(path))


def parse_hub_config(raw: bytes, where: str) -> dict[str, Any]:
    """Check the shape of a ``config.json``'s content (``where`` names it in errors).

    Raises:
        GanzooError: if it is not JSON (or nested absurdly deep) or not a ganzoo config.

    """
    try:
        config = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GanzooError(f"{where} is not valid JSON ({exc}); re-save the checkpoint") from None
    except RecursionError:
        raise GanzooError(f"{where} is nested too deeply to be a ganzoo config") from None
    if not isinstance(config, dict) or "architecture" not in config or "config" not in config:
        raise GanzooError(
            f"{where} is not a ganzoo config (it needs 'architecture' and 'config' keys); "
            "re-save the model with model.save_pretrained(folder)"
        )
    if not isinstance(config["architecture"], str):
        raise GanzooError(
            f"{where}: 'architecture' must be a name (a string), got "
            f"{type(config['architecture']).__name__}"
        )
    if not isinstance(config["config"], dict):
        got = "null" if config["config"] is None else type(config["config"]).__name__
        raise GanzooError(
            f"{where}: 'config' must be an object of the architecture's fields, got {got}; "
            "re-save the model with model.save_pretrained(folder)"
        )
    return config


def check_config_fits(
    hub_config: Mapping[str, Any],
    header: Mapping[str, tuple[tuple[int, ...], str]],
    where: str | Path,
    source: str,
) -> None:
    """Compare a weights header with the model a checked ``config.json`` describes.

    The model is built on the ``meta`` device (no memory), so a config that asks for
    a far larger model than the header describes is refused without allocating it.

    Args:
        hub_config: what :func:`parse_hub_config` returned.
        header: ``{name: (shape, dtype)}`` of the weights file.
        where: the config file, named in errors about its values.
        source: the checkpoint, named in errors about the tensors.

    Raises:
        GanzooError: for a config value of the wrong type or range, or tensors that do
            not fit (:func:`ganzoo.hub.weights.check_weights_fit`).

    """
    skeleton = _build(hub_config["architecture"], hub_config["config"], where, meta=True)
    check_weights_fit(skeleton.state_dict(), header, source)


def _build(architecture: str, config: dict[str, Any], where: str | Path, meta: bool) -> nn.Module:
    """Build the model (on the ``meta`` device if ``meta``); a refusal names ``where``."""
    import torch

    from ganzoo.registry import build_model

    try:
        if meta:
            with torch.device("meta"):
                return build_model(architecture, config)
        return build_model(architecture, config)
    except GanzooError as exc:
        raise GanzooError(f"{where}: {exc}") from None


def load_folder(
    folder: str | Path, device: str | torch.device | None = None, source: str = ""
) -> nn.Module:
    """Build the model a checkpoint folder describes and load its weights strictly.

    In order, without allocating anything before the checks pass: the config is read
    and checked (types, then ranges), the model is built on the ``meta`` device and its
    tensor shapes are compared with the header of ``model.safetensors`` (the file is the
    truth: an absurd config cannot fit it), then the model is built for real and the
    weights, once found finite, are loaded. The model is returned in eval mode on
    ``device`` (default CPU). A training export that a crash interrupted once it was
    complete is finished first (:func:`ganzoo.io.atomic.finish_files_together`).

    Raises:
        GanzooError: naming what is wrong with the folder, or a device this machine
            does not have.

    """
    if device is not None:  # an absent device is one line, before anything is read
        from ganzoo.devices import select_device

        device = select_device(device)
    folder = Path(folder)
    source = source or str(folder)
    atomic.finish_files_together(folder)  # an export a crash interrupted once complete
    hub_config = read_hub_config(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise GanzooError(f"{folder} has no {WEIGHTS_NAME}; re-save the checkpoint")
    config_path = folder / CONFIG_NAME
    check_config_fits(hub_config, read_weights_header(weights), config_path, source)
    model = _build(hub_config["architecture"], hub_config["config"], config_path, meta=False)
    load_weights_strict(model, weights, source)
    if hasattr(model, "lineage"):
        from ganzoo.lineage import LINEAGE_KEY, check_lineage

        model.lineage = check_lineage(hub_config.get(LINEAGE_KEY), str(config_path))
    if device is not None:
        model.to(device)
    return model.eval()


def write_checkpoint(
    model: nn.Module,
    folder: str | Path,
    dtype: torch.dtype | None = None,
    *,
    public: bool = True,
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (``model.hub_config()``) into ``folder``.

    Args:
        model: the model.
        folder: destination (created).
        dtype: cast floating-point weights to it (e.g. ``torch.float16`` to ship).
        public: a folder to share: absolute local paths (a ``folder:`` data set, the
            lineage's commands and ``--init-from`` folders) are cut to their last
            component (:func:`ganzoo.card_text.public_config`). ``False`` keeps them, for
            a run's own resumable checkpoint.

    """
    from ganzoo.card_text import public_config

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(model.state_dict(), folder / WEIGHTS_NAME, dtype=dtype)
    config = public_config(model.hub_config()) if public else model.hub_config()
    atomic.write_text(folder / CONFIG_NAME, json.dumps(config, indent=2, sort_keys=True) + "\n")
    return folder


def export_pretrained(
    model: nn.Module,
    folder: str | Path,
    *,
    dtype: torch.dtype | None = None,
    metrics: Mapping[str, Any] | None = None,
    command: str | None = None,
    training: Mapping[str, Any] | None = None,
    samples: str | None = None,
    model_name: str | None = None,
    reconstructions: str | None = None,
) -> Path:
    """Write a complete Hub folder: weights, config and a model card with metrics.

    Args:
        model: the model.
        folder: destination (created).
        dtype: e.g. ``torch.float16`` for shipped checkpoints.
        metrics: measured metrics for the card's table and YAML.
        command: the command that trained it.
        training: other facts for the card (seed, device, wall time...).
        samples: file name of a sample grid already in ``folder``.
        model_name: the card's title (and the name used in its code snippets).
        reconstructions: file name of a picture of inputs above their reconstructions
            already in ``folder``.

    """
    folder = write_checkpoint(model, folder, dtype=dtype)
    card = model.generate_model_card(
        metrics=dict(metrics or {}),
        command=command,
        training=dict(training or {}),
        samples=samples,
        reconstructions=reconstructions,
        model_name=model_name,
        model_id=model_name,
    )
    atomic.write_text(folder / CARD_NAME, str(card))
    return folder
