"""Where checkpoints come from and go to: local folders, the bundled catalog, the Hub.

:func:`from_pretrained` resolves a name in this order: an existing local folder,
a bundled catalog name (``src/ganzoo/pretrained/<name>/``), then a Hugging Face
Hub repo id. Hub downloads go through ``huggingface_hub`` and honour
``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE``, ``revision`` and tokens, read
when the call is made (not when ``huggingface_hub`` was imported).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.catalog import get_pretrained_info, load_catalog
from ganzoo.errors import GanzooError, did_you_mean

if TYPE_CHECKING:
    import torch

    from ganzoo.models.base import ZooModel

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_TRUE = {"1", "true", "yes", "on"}


# ---------------------------------------------------------------------------- weights
def save_weights(
    state_dict: Mapping[str, torch.Tensor], path: str | Path, dtype: torch.dtype | None = None
) -> None:
    """Write tensors to a safetensors file atomically (temporary file, then rename).

    Args:
        state_dict: the tensors.
        path: destination ``.safetensors`` file.
        dtype: cast floating-point tensors to this dtype (e.g. ``torch.float16`` to ship).

    """
    from safetensors.torch import save_file

    tensors = {}
    for key, value in state_dict.items():
        value = value.detach()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.to("cpu").contiguous().clone()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # safetensors writes 0600; give the usual file mode
    os.replace(tmp, path)


def load_weights_strict(model: torch.nn.Module, path: str | Path, source: str = "") -> None:
    """Load a safetensors file into ``model``; a missing, extra or misshapen tensor is an error.

    Floating-point tensors are cast to the dtype of the model's own (so fp16 files load
    into fp32 models).

    Raises:
        GanzooError: naming the tensors that do not match.

    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    source = source or str(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise GanzooError(f"cannot read weights {path}: {exc}") from None
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    misshapen = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("misshapen", misshapen)):
        if keys:
            shown = ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")
            problems.append(f"{len(keys)} {label} tensor(s): {shown}")
    if problems:
        raise GanzooError(
            f"weights of '{source}' do not fit its architecture: {'; '.join(problems)} "
            "(was the checkpoint saved by another version or edited?)"
        )
    model.load_state_dict(tensors, strict=True)


# ---------------------------------------------------------------------------- folders
def read_hub_config(folder: str | Path) -> dict[str, Any]:
    """Read and validate a checkpoint folder's ``config.json``.

    Raises:
        GanzooError: if it is missing, not JSON, or not a ganzoo config.

    """
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise GanzooError(
            f"{folder} has no {CONFIG_NAME}: not a ganzoo checkpoint "
            "(make one with model.save_pretrained(folder) or `ganzoo train`)"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GanzooError(f"{path} is not valid JSON ({exc}); re-save the checkpoint") from None
    if not isinstance(config, dict) or "architecture" not in config or "config" not in config:
        raise GanzooError(
            f"{path} is not a ganzoo config (it needs 'architecture' and 'config' keys); "
            "re-save the model with model.save_pretrained(folder)"
        )
    return config


def load_folder(
    folder: str | Path, device: str | torch.device | None = None, source: str = ""
) -> ZooModel:
    """Build the model a checkpoint folder describes and load its weights strictly.

    The model is returned in eval mode on ``device`` (default CPU).
    """
    from ganzoo.registry import get_model_entry

    folder = Path(folder)
    hub_config = read_hub_config(folder)
    entry = get_model_entry(hub_config["architecture"])
    model = entry.cls(hub_config["config"])
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise GanzooError(f"{folder} has no {WEIGHTS_NAME}; re-save the checkpoint")
    load_weights_strict(model, weights, source or str(folder))
    if device is not None:
        model.to(device)
    return model.eval()


def write_checkpoint(model: ZooModel, folder: str | Path, dtype: torch.dtype | None = None) -> Path:
    """Write ``model.safetensors`` and ``config.json`` of ``model`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(model.state_dict(), folder / WEIGHTS_NAME, dtype=dtype)
    text = json.dumps(model.hub_config(), indent=2, sort_keys=True) + "\n"
    tmp = folder / f".{CONFIG_NAME}.tmp{os.getpid()}"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / CONFIG_NAME)
    return folder


def export_pretrained(
    model: ZooModel,
    folder: str | Path,
    *,
    dtype: torch.dtype | None = None,
    metrics: Mapping[str, Any] | None = None,
    command: str | None = None,
    training: Mapping[str, Any] | None = None,
    samples: str | None = None,
    model_name: str | None = None,
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

    """
    folder = write_checkpoint(model, folder, dtype=dtype)
    card = model.generate_model_card(
        metrics=dict(metrics or {}),
        command=command,
        training=dict(training or {}),
        samples=samples,
        model_name=model_name,
        model_id=model_name,
    )
    card.save(str(folder / "README.md"))
    return folder


# ---------------------------------------------------------------------------- resolution
def _hub_download(
    repo_id: str,
    *,
    revision: str | None,
    cache_dir: str | Path | None,
    force_download: bool,
    local_files_only: bool,
    token: str | bool | None,
) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = os.environ.get("HF_ENDPOINT") or None
    offline = local_files_only or os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE
    cache_dir = cache_dir or os.environ.get("HF_HUB_CACHE") or None
    where = endpoint or "the Hugging Face Hub"
    rev = revision or "main"
    paths = {}
    try:
        for filename in (CONFIG_NAME, WEIGHTS_NAME):
            paths[filename] = hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                local_files_only=offline,
                token=token,
                endpoint=endpoint,
                library_name="ganzoo",
            )
    except RevisionNotFoundError:
        raise GanzooError(
            f"Hub repo '{repo_id}' has no revision '{rev}'; use an existing branch, tag or commit"
        ) from None
    except RepositoryNotFoundError:
        raise GanzooError(
            f"no model repo '{repo_id}' on {where} (check the id; for a private repo "
            "log in with `hf auth login` or pass token=)"
        ) from None
    except LocalEntryNotFoundError:
        raise GanzooError(
            f"'{repo_id}' (revision '{rev}') is not in the Hub cache and "
            + (
                "offline mode is on (unset HF_HUB_OFFLINE to download it)"
                if offline
                else f"{where} could not be reached; check the connection or HF_ENDPOINT"
            )
        ) from None
    except EntryNotFoundError:
        raise GanzooError(
            f"Hub repo '{repo_id}' has no {filename} at revision '{rev}': not a ganzoo checkpoint"
        ) from None
    except HfHubHTTPError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GanzooError(f"download of '{repo_id}' failed: {first_line}") from None
    folder = Path(paths[CONFIG_NAME]).parent
    if Path(paths[WEIGHTS_NAME]).parent != folder:  # pragma: no cover - hub layout invariant
        raise GanzooError(f"downloaded files of '{repo_id}' are not in one snapshot folder")
    return folder


def resolve(
    name_or_path: str | Path,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    force_download: bool = False,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> Path:
    """Turn a local folder, a bundled catalog name or a Hub repo id into a local folder.

    Raises:
        GanzooError: if nothing matches, with the closest catalog names.

    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise GanzooError(f"{path} is a file; pass the folder that holds {CONFIG_NAME}")
    catalog = load_catalog()
    hub_args = dict(
        cache_dir=cache_dir,
        force_download=force_download,
        local_files_only=local_files_only,
        token=token,
    )
    if text in catalog:
        info = get_pretrained_info(text)
        if info.bundled and info.folder.is_dir():
            return info.folder
        if info.repo_id:
            return _hub_download(info.repo_id, revision=revision or info.revision, **hub_args)
        raise GanzooError(f"pretrained model '{text}' is neither bundled nor published")
    if _REPO_ID.match(text) and not text.startswith((".", "~")):
        return _hub_download(text, revision=revision, **hub_args)
    raise GanzooError(
        f"no pretrained model, local folder or Hub repo '{text}'{did_you_mean(text, catalog)} "
        "(`ganzoo list` shows all)"
    )


def from_pretrained(
    name_or_path: str | Path,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    force_download: bool = False,
    local_files_only: bool = False,
    token: str | bool | None = None,
    device: str | torch.device | None = None,
) -> ZooModel:
    """Load a pretrained model, ready to sample, classify, encode or fine-tune.

    Args:
        name_or_path: a local checkpoint folder, a bundled name from
            :func:`ganzoo.list_pretrained` (e.g. ``"sgan-mnist-100"``) or a Hub repo id
            (``"org/name"``).
        revision: Hub branch, tag or commit.
        cache_dir: Hub cache folder (default: ``HF_HUB_CACHE`` or huggingface_hub's).
        force_download: download again even if cached.
        local_files_only: never touch the network (also set by ``HF_HUB_OFFLINE=1``).
        token: Hub token for private repos.
        device: where to put the model (default CPU).

    Returns:
        The model, in eval mode; weights are loaded strictly.

    Example:
        >>> import ganzoo
        >>> model = ganzoo.from_pretrained("sgan-mnist-100")  # doctest: +SKIP
        >>> images = model.sample(64, seed=0)  # doctest: +SKIP

    """
    folder = resolve(
        name_or_path,
        revision=revision,
        cache_dir=cache_dir,
        force_download=force_download,
        local_files_only=local_files_only,
        token=token,
    )
    return load_folder(folder, device=device, source=str(name_or_path))


def push(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    commit_message: str = "Upload ganzoo checkpoint",
    revision: str | None = None,
) -> str:
    """Publish a checkpoint folder to the Hub (creating the repo if needed).

    The folder is validated first (config and strict weight loading), so a broken
    checkpoint is never published.

    Returns:
        The URL of the commit.

    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    folder = Path(folder)
    if not folder.is_dir():
        raise GanzooError(f"{folder} is not a folder; pass a checkpoint folder to push")
    load_folder(folder)
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            commit_message=commit_message,
            revision=revision,
            ignore_patterns=["checkpoint/**", "checkpoint.old/**", ".*", "best/**"],
        )
    except HfHubHTTPError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GanzooError(f"push to '{repo_id}' failed: {first_line}") from None
    return str(getattr(info, "commit_url", info))
