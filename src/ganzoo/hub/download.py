"""Resolve a name to a checkpoint folder, downloading from the Hub when needed.

:func:`from_pretrained` resolves a name in this order: an existing local folder,
a bundled catalog name (``src/ganzoo/pretrained/<name>/``), then a Hugging Face
Hub repo id. Hub downloads go through ``huggingface_hub`` and honour
``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE``, ``HF_HUB_ETAG_TIMEOUT``,
``revision`` and tokens, read when the call is made (not when ``huggingface_hub``
was imported).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.catalog import get_pretrained_info, load_catalog
from ganzoo.errors import GanzooError, did_you_mean
from ganzoo.hub.folder import CONFIG_NAME, WEIGHTS_NAME, load_folder
from ganzoo.hub.network import (
    DEFAULT_TIMEOUT,
    hub_failure,
    hub_name,
    hub_timeout,
    mask_credentials,
    network_error,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_REPO_ID_LENGTH",
    "from_pretrained",
    "hub_timeout",
    "network_error",
    "resolve",
    "validate_repo_id",
]

#: Longest repo id the Hub accepts.
MAX_REPO_ID_LENGTH = 96
_REPO_PART = re.compile(r"[A-Za-z0-9_.\-]+")
_TRUE = {"1", "true", "yes", "on"}


# ---------------------------------------------------------------------------- repo ids
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


# ---------------------------------------------------------------------------- resolution
def _hub_download(repo_id: str, **options: Any) -> Path:
    """Download a Hub repo's checkpoint into the cache (see :func:`_download_checkpoint`).

    Every refusal is one line, with any credentials written into ``HF_ENDPOINT``
    masked (:func:`ganzoo.hub.network.mask_credentials`).
    """
    try:
        return _download_checkpoint(repo_id, **options)
    except GanzooError as exc:
        raise GanzooError(mask_credentials(str(exc))) from None


def _download_checkpoint(
    repo_id: str,
    *,
    revision: str | None,
    cache_dir: str | Path | None,
    force_download: bool,
    local_files_only: bool,
    token: str | bool | None,
    extra_files: tuple[str, ...] = (),
) -> Path:
    """Download a Hub repo's config and weights (and ``extra_files`` it has) into the cache.

    Online, the weights are looked at before they are taken
    (:func:`ganzoo.hub.preflight.check_before_download`: announced size, header against
    the architecture) unless the cache already holds them for the repo's current commit.

    Returns:
        The snapshot folder that holds them.

    Raises:
        GanzooError: one line for a refused id, a missing repo, revision or file, an
            offline cache miss, weights too large or not fitting their config, a refusal
            by the Hub (HTTP 4xx) or a Hub that cannot be reached or answers wrongly.

    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import (
        EntryNotFoundError,
        FileMetadataError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from ganzoo.hub import preflight

    validate_repo_id(repo_id)
    endpoint = os.environ.get("HF_ENDPOINT") or None
    offline = local_files_only or os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE
    cache_dir = cache_dir or os.environ.get("HF_HUB_CACHE") or None
    where = hub_name()
    rev = revision or "main"
    shown = f"'{repo_id}' (revision '{rev}')"
    timeout = hub_timeout()
    commit = None

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
                found = get_hf_file_metadata(
                    url, token=token, timeout=timeout, library_name="ganzoo"
                )
                if not found.commit_hash:  # an answer, but not the Hub's (a portal page)
                    raise FileMetadataError(f"{url} answered without X-Repo-Commit")
            except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError):
                raise
            except Exception as exc:
                problem = network_error(exc, where)
                if problem is None:
                    raise
                cached = None if force_download else from_cache()
                if cached is None:
                    raise GanzooError(f"{shown} is not in the Hub cache and {problem}") from None
                paths = cached
            else:
                filename, commit = WEIGHTS_NAME, found.commit_hash
                if force_download or not _cached(repo_id, commit, cache_dir):
                    preflight.check_before_download(
                        repo_id,
                        revision=commit or revision,
                        shown=shown,
                        endpoint=endpoint,
                        token=token,
                        timeout=timeout,
                        config_size=found.size,
                    )
                paths = {name: download(name, False) for name in (CONFIG_NAME, WEIGHTS_NAME)}
    except GanzooError:
        raise
    except Exception as exc:
        raise GanzooError(_failure(exc, repo_id, rev, filename, offline)) from None
    folder = Path(paths[CONFIG_NAME]).parent
    if Path(paths[WEIGHTS_NAME]).parent != folder:  # pragma: no cover - hub layout invariant
        raise GanzooError(f"downloaded files of '{repo_id}' are not in one snapshot folder")
    for name in extra_files:  # optional: a repo, cache or network without one is no error
        try:
            if not offline:
                preflight.check_extra_size(
                    repo_id,
                    name,
                    revision=commit or revision,
                    shown=shown,
                    endpoint=endpoint,
                    token=token,
                    timeout=timeout,
                )
            download(name, offline)
        except GanzooError:
            raise
        except (EntryNotFoundError, LocalEntryNotFoundError):
            continue
        except Exception as exc:
            if network_error(exc, where) is None:
                raise GanzooError(_failure(exc, repo_id, rev, name, offline)) from None
    return folder


def _cached(repo_id: str, commit: str | None, cache_dir: str | Path | None) -> bool:
    """Whether the Hub cache holds ``model.safetensors`` of ``repo_id`` at ``commit``."""
    from huggingface_hub import try_to_load_from_cache

    if not commit:
        return False
    found = try_to_load_from_cache(repo_id, WEIGHTS_NAME, cache_dir=cache_dir, revision=commit)
    return isinstance(found, str)


def _failure(exc: Exception, repo_id: str, rev: str, filename: str, offline: bool) -> str:
    """The one line that reports a failed download of ``repo_id`` at revision ``rev``.

    Raises:
        Exception: ``exc`` itself, if it is no failure of the Hub or the network.

    """
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = hub_name()
    shown = f"'{repo_id}' (revision '{rev}')"
    if isinstance(exc, RevisionNotFoundError):
        return (
            f"Hub repo '{repo_id}' has no revision '{rev}'; use an existing branch, tag or commit"
        )
    if isinstance(exc, RepositoryNotFoundError) and not isinstance(exc, GatedRepoError):
        return (
            f"no model repo '{repo_id}' on {where} (check the id; for a private repo "
            "log in with `hf auth login` or pass token=)"
        )
    if isinstance(exc, LocalEntryNotFoundError):
        problem = None if offline else network_error(exc, where)
        return f"{shown} is not in the Hub cache and " + (
            "offline mode is on (unset HF_HUB_OFFLINE to download it)"
            if offline
            else problem or f"{where} could not be reached; check the connection or HF_ENDPOINT"
        )
    if isinstance(exc, EntryNotFoundError):
        return (
            f"Hub repo '{repo_id}' has no {filename} at revision '{rev}': not a ganzoo checkpoint"
        )
    line = hub_failure(exc, where, f"download of '{repo_id}'")
    if line is None:
        raise exc
    return line


def _looks_like_repo_id(text: str) -> bool:
    """Whether ``text`` is shaped like ``namespace/name`` rather than a path."""
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
            Hub, bad config or weights, a device this machine does not have).

    Examples:
        >>> import ganzoo
        >>> model = ganzoo.from_pretrained("sgan-mnist-100")  # doctest: +SKIP
        >>> images = model.sample(64, seed=0)  # doctest: +SKIP

    """
    if device is not None:  # an absent device is refused before anything is downloaded
        from ganzoo.devices import select_device

        device = select_device(device)
    folder = resolve(
        name_or_path,
        revision=revision,
        cache_dir=cache_dir,
        force_download=force_download,
        local_files_only=local_files_only,
        token=token,
    )
    return load_folder(folder, device=device, source=str(name_or_path))
