"""Look before downloading: a Hub checkpoint's announced size and its weights' header.

Before ``model.safetensors`` is taken from a Hub repo, :func:`check_before_download`
asks what is about to come: the size the Hub announces for it, against a limit
(:func:`max_download_bytes`: :data:`DEFAULT_MAX_DOWNLOAD_BYTES`, or
``GANZOO_MAX_DOWNLOAD_BYTES``), then the safetensors header alone, read with two HTTP
range requests (its 8-byte length, then the JSON), whose tensor names and shapes are
compared with the model that ``config.json`` describes. ``config.json`` is read into
memory for that, so a refusal leaves nothing in the Hub cache. ``huggingface_hub`` is
imported when a function is called.
"""

from __future__ import annotations

import math
import os
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.hub.folder import (
    CONFIG_NAME,
    MAX_CONFIG_BYTES,
    WEIGHTS_NAME,
    check_config_fits,
    parse_hub_config,
)
from ganzoo.hub.weights import header_length, parse_weights_header

#: The environment variable that sets the largest file downloaded from a Hub repo, in bytes.
DOWNLOAD_LIMIT_VARIABLE = "GANZOO_MAX_DOWNLOAD_BYTES"
#: Largest file downloaded from a Hub repo when ``GANZOO_MAX_DOWNLOAD_BYTES`` is not set:
#: 2 GB (ganzoo's own checkpoints are a few MB).
DEFAULT_MAX_DOWNLOAD_BYTES = 2 * 10**9
_CHUNK = 1 << 16


def max_download_bytes() -> int:
    """The largest file ganzoo downloads from a Hub repo, in bytes.

    ``GANZOO_MAX_DOWNLOAD_BYTES`` if set (a whole number of bytes; ``5e9`` is accepted),
    else :data:`DEFAULT_MAX_DOWNLOAD_BYTES`. Read at each call.

    Raises:
        GanzooError: if the variable is not a positive whole number.

    """
    text = os.environ.get(DOWNLOAD_LIMIT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_DOWNLOAD_BYTES
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1 and value == int(value)):
        raise GanzooError(
            f"{DOWNLOAD_LIMIT_VARIABLE} must be a whole number of bytes (e.g. 5000000000), "
            f"got '{text[:40]}'"
        )
    return int(value)


def _human(size: int) -> str:
    """``size`` bytes in the largest decimal unit that keeps a number >= 1 (``20.0 GB``)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def check_size(size: int, name: str, shown: str) -> None:
    """Refuse a file of ``size`` bytes over :func:`max_download_bytes`, before downloading it.

    Args:
        size: the file's size, as announced.
        name: the file's name in the repo.
        shown: the repo, as named in messages (``"'org/x' (revision 'main')"``).

    Raises:
        GanzooError: naming the size, the limit and the variable that raises it.

    """
    limit = max_download_bytes()
    if size > limit:
        raise GanzooError(
            f"{shown}: {name} is announced at {_human(size)}, over the download limit of "
            f"{_human(limit)}; nothing was downloaded (set {DOWNLOAD_LIMIT_VARIABLE} to a "
            "larger number of bytes if you trust this repo)"
        )


def read_range(url: str, first: int, last: int, *, token: Any, timeout: float) -> bytes:
    """Bytes ``first..last`` (inclusive) of a Hub file, with an HTTP range request.

    At most ``last + 1`` bytes are read even from a server that ignores the range and
    sends the whole file; fewer come back when the file is shorter.

    Raises:
        huggingface_hub.errors.HfHubHTTPError: for an HTTP error answer (the caller
            reports it as for any download).

    """
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    headers = build_hf_headers(token=token, library_name="ganzoo")
    headers["Range"] = f"bytes={first}-{last}"
    headers["Accept-Encoding"] = "identity"
    session = get_session()
    data = bytearray()
    if hasattr(session, "stream"):  # httpx-based huggingface_hub (>= 1.0)
        opened = session.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True)
    else:  # requests-based huggingface_hub (< 1.0)
        opened = session.get(url, headers=headers, timeout=timeout, stream=True)
    with opened as response:
        hf_raise_for_status(response)
        # 206: the range itself; anything else: the file from its start
        want = last - first + 1 if response.status_code == 206 else last + 1
        chunks = (
            response.iter_bytes(_CHUNK)
            if hasattr(response, "iter_bytes")
            else response.iter_content(_CHUNK)
        )
        for chunk in chunks:
            data += chunk
            if len(data) >= want:
                break
    skip = 0 if response.status_code == 206 else first
    return bytes(data[skip : skip + last - first + 1])


def check_before_download(
    repo_id: str,
    *,
    revision: str | None,
    shown: str,
    endpoint: str | None,
    token: Any,
    timeout: float,
    config_size: int | None,
) -> None:
    """Check a Hub checkpoint before its weights are downloaded; nothing is cached.

    In order: ``config.json``'s announced size (at most 1 MB), ``model.safetensors``'s
    announced size (at most :func:`max_download_bytes`), then its header, read with
    range requests: bounded length, well-formed tensor entries that add up to the
    announced size, and tensors that fit the model ``config.json`` describes.

    Args:
        repo_id: the repo.
        revision: the commit to look at.
        shown: the repo, as named in messages.
        endpoint: the Hub (``None``: huggingface_hub's default).
        token: as for ``hf_hub_download``.
        timeout: seconds to wait for each answer.
        config_size: ``config.json``'s announced size, if known.

    Raises:
        GanzooError: one line naming what does not fit.
        huggingface_hub.errors.HfHubHTTPError: for an HTTP error answer (e.g. a repo
            without ``model.safetensors``), for the caller to report.

    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    if config_size is not None and config_size > MAX_CONFIG_BYTES:
        raise GanzooError(
            f"{shown}: {CONFIG_NAME} is announced at {config_size} bytes; a ganzoo config is "
            "a few KB: not a ganzoo checkpoint (nothing was downloaded)"
        )
    weights_url = hf_hub_url(repo_id, WEIGHTS_NAME, revision=revision, endpoint=endpoint)
    announced = get_hf_file_metadata(
        weights_url, token=token, timeout=timeout, library_name="ganzoo"
    ).size
    if announced is not None:
        check_size(announced, WEIGHTS_NAME, shown)
    read = {"token": token, "timeout": timeout}
    config_url = hf_hub_url(repo_id, CONFIG_NAME, revision=revision, endpoint=endpoint)
    raw_config = read_range(config_url, 0, MAX_CONFIG_BYTES, **read)
    if len(raw_config) > MAX_CONFIG_BYTES:
        raise GanzooError(
            f"{shown}: {CONFIG_NAME} is over {MAX_CONFIG_BYTES} bytes; a ganzoo config is a "
            "few KB: not a ganzoo checkpoint (nothing was downloaded)"
        )
    config_where = f"{repo_id}/{CONFIG_NAME}"
    hub_config = parse_hub_config(raw_config, config_where)
    length = header_length(read_range(weights_url, 0, 7, **read), repo_id)
    raw_header = read_range(weights_url, 8, 8 + length - 1, **read)
    if len(raw_header) != length:
        raise GanzooError(
            f"{shown}: {WEIGHTS_NAME} ends inside its header: not a ganzoo checkpoint"
        )
    header, data_bytes = parse_weights_header(raw_header, repo_id)
    size = 8 + length + data_bytes
    if announced is not None and announced != size:
        raise GanzooError(
            f"{shown}: {WEIGHTS_NAME} is announced at {announced} bytes but its header "
            f"describes {size}: not a ganzoo checkpoint (nothing was downloaded)"
        )
    check_size(size, WEIGHTS_NAME, shown)
    check_config_fits(hub_config, header, config_where, repo_id)


def check_extra_size(
    repo_id: str,
    filename: str,
    *,
    revision: str | None,
    shown: str,
    endpoint: str | None,
    token: Any,
    timeout: float,
) -> None:
    """Refuse an optional file of a Hub repo announced over :func:`max_download_bytes`.

    Raises:
        GanzooError: naming the size and the limit.
        huggingface_hub.errors.EntryNotFoundError: if the repo has no such file.

    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    size = get_hf_file_metadata(url, token=token, timeout=timeout, library_name="ganzoo").size
    if size is not None:
        check_size(size, filename, shown)
