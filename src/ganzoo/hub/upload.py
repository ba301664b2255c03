"""Publish a checkpoint folder to the Hugging Face Hub.

Only an allow-list of the folder's files is sent (:func:`upload_files`), and only
after the staged copy has loaded as a checkpoint, so a broken or private file is
never published. ``huggingface_hub`` is imported when :func:`push` is called.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ganzoo.errors import GanzooError
from ganzoo.hub.download import validate_repo_id
from ganzoo.hub.folder import (
    CARD_NAME,
    CONFIG_NAME,
    ONLINE_WEIGHTS_NAME,
    WEIGHTS_NAME,
    load_folder,
    read_hub_config,
)
from ganzoo.hub.network import hub_failure, hub_name, mask_credentials
from ganzoo.io import atomic

#: What ``push`` uploads: these files and ``*.png`` pictures, at the folder's top level only.
UPLOAD_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, ONLINE_WEIGHTS_NAME)
UPLOAD_SUFFIXES = (".png",)


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
    so a broken checkpoint is never published, its ``config.json`` loses absolute local
    paths (a folder written by an older version may hold them), and that staged folder
    is uploaded.

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
    where = hub_name()
    with tempfile.TemporaryDirectory(prefix="ganzoo-push-") as tmp:
        staged = Path(tmp)
        for name, source in files.items():
            shutil.copyfile(source, staged / name)
        load_folder(staged, source=str(folder))
        _share_config(staged)
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
            raise GanzooError(mask_credentials(_failure(exc, repo_id, where))) from None
    return str(getattr(info, "commit_url", info))


def _share_config(folder: Path) -> None:
    """Cut absolute local paths from ``folder``'s ``config.json`` (see ``public_config``)."""
    from ganzoo.card_text import public_config

    config = read_hub_config(folder)
    public = public_config(config)
    if public != config:
        text = json.dumps(public, indent=2, sort_keys=True) + "\n"
        atomic.write_text(folder / CONFIG_NAME, text)


def _failure(exc: Exception, repo_id: str, where: str) -> str:
    """The one line that reports a failed push to ``repo_id``: unreachable, refused, failed.

    Raises:
        Exception: ``exc`` itself, if it is no failure of the Hub or the network.

    """
    line = hub_failure(exc, where, f"push to '{repo_id}'")
    if line is None:
        raise exc
    return line
