"""Where checkpoints come from and go to: local folders, the bundled catalog, the Hub.

:func:`from_pretrained` resolves a name in this order: an existing local folder,
a bundled catalog name (``src/ganzoo/pretrained/<name>/``), then a Hugging Face
Hub repo id. Hub downloads go through ``huggingface_hub`` and honour
``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE``, ``HF_HUB_ETAG_TIMEOUT``,
``revision`` and tokens, read when the call is made (not when ``huggingface_hub``
was imported).

This module knows the folder format, not the model classes: it works on any
``torch.nn.Module`` that has a ``hub_config()`` method, and builds models through
:func:`ganzoo.registry.build_model`. Every file it reads is treated as hostile: the
config is type- and range-checked and the weights' header is compared with the
architecture's shapes before a byte of weights is allocated.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo import atomic
from ganzoo.catalog import get_pretrained_info, load_catalog
from ganzoo.errors import GanzooError, did_you_mean

if TYPE_CHECKING:
    import torch
    from torch import nn

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
#: The non-averaged weights of a network kept with an EMA (what a next run trains on;
#: see :mod:`ganzoo.train.init_from`), beside ``model.safetensors``.
ONLINE_WEIGHTS_NAME = "online_weights.safetensors"
#: What ``push`` uploads: these files and ``*.png`` pictures, at the folder's top level only.
UPLOAD_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, ONLINE_WEIGHTS_NAME)
UPLOAD_SUFFIXES = (".png",)
#: Longest repo id the Hub accepts.
MAX_REPO_ID_LENGTH = 96
#: Largest ``config.json`` read (a ganzoo config is about 1 KB).
MAX_CONFIG_BYTES = 1 << 20
#: Seconds to wait for the Hub's first answer when ``HF_HUB_ETAG_TIMEOUT`` is not set.
DEFAULT_TIMEOUT = 10.0
_REPO_PART = re.compile(r"[A-Za-z0-9_.\-]+")
_TRUE = {"1", "true", "yes", "on"}
_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}


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


def read_weights_header(path: str | Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Read a safetensors file's header: ``{name: (shape, dtype)}``, without loading any data.

    Raises:
        GanzooError: if the file is not a readable safetensors file.

    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return {
                key: (tuple(handle.get_slice(key).get_shape()), handle.get_slice(key).get_dtype())
                for key in handle.keys()  # noqa: SIM118 - safe_open has no __iter__
            }
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GanzooError(f"cannot read weights {path}: {first}; re-save the checkpoint") from None


def _shown(keys: list[str]) -> str:
    return ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")


def check_weights_fit(
    expected: Mapping[str, torch.Tensor],
    header: Mapping[str, tuple[tuple[int, ...], str]],
    source: str,
) -> None:
    """Compare a file's header with the tensors a model expects (which may be on ``meta``).

    Raises:
        GanzooError: naming the missing, unexpected, misshapen and non-float tensors.

    """
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    common = set(expected) & set(header)
    misshapen = sorted(k for k in common if tuple(expected[k].shape) != header[k][0])
    not_float = sorted(
        k for k in common if expected[k].is_floating_point() and header[k][1] not in _FLOAT_DTYPES
    )
    problems = []
    for label, keys in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("misshapen", misshapen),
        ("non-float", not_float),
    ):
        if keys:
            problems.append(f"{len(keys)} {label} tensor(s): {_shown(keys)}")
    if problems:
        raise GanzooError(
            f"weights of '{source}' do not fit its architecture: {'; '.join(problems)} "
            "(was the checkpoint saved by another version or edited?)"
        )


def check_finite(tensors: Mapping[str, torch.Tensor], source: str) -> None:
    """Refuse weights holding NaN or infinity (they give black images and chance accuracy).

    Raises:
        GanzooError: naming the tensors that are not finite.

    """
    import torch

    bad = sorted(
        k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())
    )
    if bad:
        raise GanzooError(
            f"weights of '{source}' hold NaN or infinite values in {len(bad)} tensor(s): "
            f"{_shown(bad)} (the training diverged or the file is damaged)"
        )


def load_weights_strict(model: nn.Module, path: str | Path, source: str = "") -> None:
    """Load a safetensors file into ``model``; a missing, extra or misshapen tensor is an error.

    The header is compared with the model before any data is read; NaN or infinite
    weights are refused. Floating-point tensors are cast to the dtype of the model's own
    (so fp16 files load into fp32 models).

    Raises:
        GanzooError: naming the tensors that do not match or are not finite.

    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    source = source or str(path)
    check_weights_fit(model.state_dict(), read_weights_header(path), source)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise GanzooError(f"cannot read weights {path}: {exc}") from None
    check_finite(tensors, source)
    model.load_state_dict(tensors, strict=True)


# ---------------------------------------------------------------------------- folders
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
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GanzooError(f"{path} is not valid JSON ({exc}); re-save the checkpoint") from None
    except RecursionError:
        raise GanzooError(f"{path} is nested too deeply to be a ganzoo config") from None
    if not isinstance(config, dict) or "architecture" not in config or "config" not in config:
        raise GanzooError(
            f"{path} is not a ganzoo config (it needs 'architecture' and 'config' keys); "
            "re-save the model with model.save_pretrained(folder)"
        )
    if not isinstance(config["architecture"], str):
        raise GanzooError(
            f"{path}: 'architecture' must be a name (a string), got "
            f"{type(config['architecture']).__name__}"
        )
    if not isinstance(config["config"], dict):
        got = "null" if config["config"] is None else type(config["config"]).__name__
        raise GanzooError(
            f"{path}: 'config' must be an object of the architecture's fields, got {got}; "
            "re-save the model with model.save_pretrained(folder)"
        )
    return config


def _build(architecture: str, config: dict[str, Any], where: Path, meta: bool) -> nn.Module:
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
    ``device`` (default CPU).

    Raises:
        GanzooError: naming what is wrong with the folder.

    """
    folder = Path(folder)
    source = source or str(folder)
    hub_config = read_hub_config(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise GanzooError(f"{folder} has no {WEIGHTS_NAME}; re-save the checkpoint")
    header = read_weights_header(weights)
    config_path = folder / CONFIG_NAME
    arch, config = hub_config["architecture"], hub_config["config"]
    skeleton = _build(arch, config, config_path, meta=True)
    check_weights_fit(skeleton.state_dict(), header, source)
    del skeleton
    model = _build(arch, config, config_path, meta=False)
    load_weights_strict(model, weights, source)
    if hasattr(model, "lineage"):
        from ganzoo.lineage import LINEAGE_KEY, check_lineage

        model.lineage = check_lineage(hub_config.get(LINEAGE_KEY), str(config_path))
    if device is not None:
        model.to(device)
    return model.eval()


def write_checkpoint(
    model: nn.Module, folder: str | Path, dtype: torch.dtype | None = None
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (``model.hub_config()``) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(model.state_dict(), folder / WEIGHTS_NAME, dtype=dtype)
    atomic.write_text(
        folder / CONFIG_NAME, json.dumps(model.hub_config(), indent=2, sort_keys=True) + "\n"
    )
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
    card.save(str(folder / "README.md"))
    return folder


# ---------------------------------------------------------------------------- repo ids, network
def validate_repo_id(repo_id: str) -> str:
    """Check a Hub repo id the way the Hub does, before any request.

    ``namespace/name``, each part of letters, digits, ``-``, ``_`` and ``.``, not
    starting or ending with ``-`` or ``.``; no ``..``, no ``.git`` suffix, at most 96
    characters.

    Returns:
        ``repo_id``, unchanged.

    Raises:
        GanzooError: naming the rule the id breaks.

    """
    shown = repo_id if len(repo_id) <= 60 else repo_id[:57] + "..."
    parts = repo_id.split("/")
    if len(repo_id) > MAX_REPO_ID_LENGTH:
        reason = f"it has {len(repo_id)} characters, the Hub allows {MAX_REPO_ID_LENGTH}"
    elif len(parts) != 2 or not all(parts):
        reason = "it must be namespace/name"
    elif not all(_REPO_PART.fullmatch(part) for part in parts):
        reason = "only letters, digits, '-', '_' and '.' are allowed"
    elif ".." in repo_id:
        reason = "'..' is not allowed"
    elif any(part[0] in "-." or part[-1] in "-." for part in parts):
        reason = "a part may not start or end with '-' or '.'"
    elif repo_id.endswith(".git"):
        reason = "it may not end with '.git'"
    else:
        return repo_id
    raise GanzooError(f"invalid Hub repo id '{shown}': {reason} (e.g. me/my-sgan)")


def hub_timeout() -> float:
    """Seconds to wait for the Hub's answer: ``HF_HUB_ETAG_TIMEOUT`` if set, else 10.

    Read at each call (huggingface_hub reads it once, at import).
    """
    text = os.environ.get("HF_HUB_ETAG_TIMEOUT", "").strip()
    try:
        value = float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        raise GanzooError(
            f"HF_HUB_ETAG_TIMEOUT must be a number of seconds, got '{text}'"
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise GanzooError(f"HF_HUB_ETAG_TIMEOUT must be a positive number of seconds, got {text}")
    return value


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def network_error(exc: BaseException, where: str) -> str | None:
    """A one-line description of a network failure, or ``None`` if ``exc`` is not one.

    Tells apart a server error (HTTP 5xx), an answer that is not the Hub's (an HTML
    portal or proxy page), a timeout and an unreachable endpoint, whatever HTTP library
    the installed huggingface_hub uses.
    """
    for err in _chain(exc):
        response = getattr(err, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and status >= 500:
            return f"{where} answered with a server error (HTTP {status}); try again later"
        names = {cls.__name__ for cls in type(err).__mro__}
        if "FileMetadataError" in names:
            return (
                f"{where} does not answer like a Hugging Face Hub (no X-Repo-Commit header: "
                "a login portal, a proxy page or a wrong HF_ENDPOINT?)"
            )
        if any("Timeout" in name for name in names):
            return (
                f"{where} did not answer within {hub_timeout():g} s (timed out); check the "
                "connection or HF_ENDPOINT, or raise HF_HUB_ETAG_TIMEOUT"
            )
        if names & {"ConnectError", "ConnectionError", "NetworkError", "ProxyError"} or (
            isinstance(err, OSError) and not isinstance(err, FileNotFoundError)
        ):
            return (
                f"{where} could not be reached (connection failed); "
                "check the connection or HF_ENDPOINT"
            )
    return None


# ---------------------------------------------------------------------------- resolution
def _where() -> str:
    return os.environ.get("HF_ENDPOINT") or "the Hugging Face Hub"


def _hub_download(
    repo_id: str,
    *,
    revision: str | None,
    cache_dir: str | Path | None,
    force_download: bool,
    local_files_only: bool,
    token: str | bool | None,
    extra_files: tuple[str, ...] = (),
) -> Path:
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    validate_repo_id(repo_id)
    endpoint = os.environ.get("HF_ENDPOINT") or None
    offline = local_files_only or os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE
    cache_dir = cache_dir or os.environ.get("HF_HUB_CACHE") or None
    where = _where()
    rev = revision or "main"
    timeout = hub_timeout()

    def download(filename: str, cache_only: bool) -> str:
        return hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download and not cache_only,
            local_files_only=cache_only,
            token=token,
            endpoint=endpoint,
            library_name="ganzoo",
            etag_timeout=timeout,
        )

    def from_cache() -> dict[str, str] | None:
        try:
            return {name: download(name, True) for name in (CONFIG_NAME, WEIGHTS_NAME)}
        except (LocalEntryNotFoundError, EntryNotFoundError, ValueError):
            return None

    filename = CONFIG_NAME
    try:
        if offline:
            paths = {name: download(name, True) for name in (CONFIG_NAME, WEIGHTS_NAME)}
        else:
            # One quick request, without huggingface_hub's retries (six tries of up to 60 s
            # each when an endpoint accepts connections and never answers): a dead or
            # foreign endpoint is told at once, and the cache still serves what it holds.
            try:
                url = hf_hub_url(repo_id, CONFIG_NAME, revision=revision, endpoint=endpoint)
                get_hf_file_metadata(url, token=token, timeout=timeout, library_name="ganzoo")
            except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError):
                raise
            except Exception as exc:
                problem = network_error(exc, where)
                if problem is None:
                    raise
                cached = None if force_download else from_cache()
                if cached is None:
                    raise GanzooError(
                        f"'{repo_id}' (revision '{rev}') is not in the Hub cache and {problem}"
                    ) from None
                paths = cached
            else:
                paths = {}
                for filename in (CONFIG_NAME, WEIGHTS_NAME):
                    paths[filename] = download(filename, False)
    except GanzooError:
        raise
    except RevisionNotFoundError:
        raise GanzooError(
            f"Hub repo '{repo_id}' has no revision '{rev}'; use an existing branch, tag or commit"
        ) from None
    except RepositoryNotFoundError:
        raise GanzooError(
            f"no model repo '{repo_id}' on {where} (check the id; for a private repo "
            "log in with `hf auth login` or pass token=)"
        ) from None
    except LocalEntryNotFoundError as exc:
        problem = None if offline else network_error(exc, where)
        raise GanzooError(
            f"'{repo_id}' (revision '{rev}') is not in the Hub cache and "
            + (
                "offline mode is on (unset HF_HUB_OFFLINE to download it)"
                if offline
                else problem or f"{where} could not be reached; check the connection or HF_ENDPOINT"
            )
        ) from None
    except EntryNotFoundError:
        raise GanzooError(
            f"Hub repo '{repo_id}' has no {filename} at revision '{rev}': not a ganzoo checkpoint"
        ) from None
    except Exception as exc:
        problem = network_error(exc, where)
        if problem is not None:
            raise GanzooError(f"download of '{repo_id}' failed: {problem}") from None
        if isinstance(exc, HfHubHTTPError):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise GanzooError(f"download of '{repo_id}' failed: {first}") from None
        raise
    folder = Path(paths[CONFIG_NAME]).parent
    if Path(paths[WEIGHTS_NAME]).parent != folder:  # pragma: no cover - hub layout invariant
        raise GanzooError(f"downloaded files of '{repo_id}' are not in one snapshot folder")
    for name in extra_files:
        try:
            download(name, offline)
        except Exception:  # noqa: BLE001 - optional: the repo, cache or network lacks it
            continue
    return folder


def _looks_like_repo_id(text: str) -> bool:
    return text.count("/") == 1 and not text.startswith(("/", ".", "~"))


def resolve(
    name_or_path: str | Path,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    force_download: bool = False,
    local_files_only: bool = False,
    token: str | bool | None = None,
    extra_files: tuple[str, ...] = (),
) -> Path:
    """Turn a local folder, a bundled catalog name or a Hub repo id into a local folder.

    ``extra_files`` are downloaded too where a Hub repo has them (e.g. the online weights
    a next training run starts from); a repo without them is not an error.

    Raises:
        GanzooError: if nothing matches, with the closest catalog names; for a Hub id
            the Hub would refuse; for a Hub that cannot be reached or answers wrongly.

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
        extra_files=extra_files,
    )
    if text in catalog:
        info = get_pretrained_info(text)
        if info.bundled and info.folder.is_dir():
            return info.folder
        if info.repo_id:
            return _hub_download(info.repo_id, revision=revision or info.revision, **hub_args)
        raise GanzooError(f"pretrained model '{text}' is neither bundled nor published")
    if _looks_like_repo_id(text):
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
) -> Any:
    """Load a pretrained model, ready to sample, classify, encode or fine-tune.

    This is the one implementation behind :func:`ganzoo.from_pretrained` and
    ``SomeArchitecture.from_pretrained``.

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
        The model (a :class:`ganzoo.models.base.ZooModel`), in eval mode; the config is
        checked and the weights are loaded strictly (see :func:`load_folder`).

    Raises:
        GanzooError: one line for every refusal (unknown name, bad repo id, unreachable
            Hub, bad config or weights).

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


# ---------------------------------------------------------------------------- push
def upload_files(folder: str | Path) -> dict[str, Path]:
    """What :func:`push` uploads from ``folder``: ``{name in the repo: file to read}``.

    An allow-list: ``config.json``, ``model.safetensors``, ``README.md`` and ``*.png``
    pictures, at the folder's top level only. Hidden files and subfolders (a run's
    ``checkpoint/``, ``samples/``, logs) are never uploaded. A symbolic link is followed
    only when it stays inside the folder.

    Raises:
        GanzooError: for a link that leaves the folder, or an entry that is not a file.

    """
    folder = Path(folder)
    root = folder.resolve()
    chosen: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if name.startswith(".") or not (name in UPLOAD_FILES or name.endswith(UPLOAD_SUFFIXES)):
            continue
        target = entry.resolve()
        if not target.is_relative_to(root):
            raise GanzooError(
                f"{entry} is a link to {target}, outside the folder; refusing to upload it "
                "(copy the file into the folder instead)"
            )
        if not target.is_file():
            raise GanzooError(f"{entry} is not a regular file; remove it or make it one")
        chosen[name] = target
    return chosen


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

    Only the files :func:`upload_files` allows are sent: they are staged in a
    temporary folder, the staged checkpoint is loaded (config checks, strict weights),
    so a broken checkpoint is never published, and that staged folder is uploaded.

    Returns:
        The URL of the commit.

    Raises:
        GanzooError: for an invalid repo id, a folder that is not a valid checkpoint, a
            link out of the folder, or a Hub that refuses or cannot be reached.

    """
    from huggingface_hub import HfApi

    validate_repo_id(repo_id)
    folder = Path(folder)
    if not folder.is_dir():
        raise GanzooError(f"{folder} is not a folder; pass a checkpoint folder to push")
    read_hub_config(folder)  # the clearest error for a folder that is no checkpoint
    files = upload_files(folder)
    where = _where()
    with tempfile.TemporaryDirectory(prefix="ganzoo-push-") as tmp:
        staged = Path(tmp)
        for name, source in files.items():
            shutil.copyfile(source, staged / name)
        load_folder(staged, source=str(folder))
        api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            info = api.upload_folder(
                folder_path=str(staged),
                repo_id=repo_id,
                commit_message=commit_message,
                revision=revision,
                # a second guard: the staged folder holds only the allowed files
                ignore_patterns=["checkpoint/**", "checkpoint.old/**", ".*", "best/**"],
            )
        except Exception as exc:
            problem = network_error(exc, where)
            if problem is None:
                from huggingface_hub.errors import HfHubHTTPError

                if not isinstance(exc, HfHubHTTPError):
                    raise
                text = str(exc).strip()
                problem = text.splitlines()[0] if text else type(exc).__name__
            raise GanzooError(f"push to '{repo_id}' failed: {problem}") from None
    return str(getattr(info, "commit_url", info))
