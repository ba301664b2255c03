"""The catalog of pretrained checkpoints: data in one place (``pretrained/catalog.json``).

It feeds :func:`ganzoo.list_pretrained`, ``ganzoo list``, the docs table and the
tests. Reading it needs neither torch nor network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError, did_you_mean

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
CATALOG_FILE = PRETRAINED_DIR / "catalog.json"


@dataclass(frozen=True)
class PretrainedInfo:
    """One pretrained checkpoint.

    Attributes:
        name: catalog name, e.g. ``"sgan-mnist-100"``.
        architecture: registry name of its architecture.
        dataset: what it was trained on.
        description: one line for tables.
        repo_id: Hugging Face Hub repo id, when published.
        revision: Hub revision (branch, tag or commit).
        bundled: whether the weights ship inside the package (``pretrained/<name>/``).
        metrics: measured metrics, ``{name: value}``.
        command: the command that trained it.

    """

    name: str
    architecture: str
    dataset: str
    description: str = ""
    repo_id: str | None = None
    revision: str = "main"
    bundled: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    command: str = ""

    @property
    def folder(self) -> Path:
        """Where a bundled checkpoint lives inside the package."""
        return PRETRAINED_DIR / self.name


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, PretrainedInfo]:
    """Read ``catalog.json`` into ``{name: PretrainedInfo}`` (cached)."""
    raw = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    return {item["name"]: PretrainedInfo(**item) for item in raw["models"]}


def list_pretrained(architecture: str | None = None) -> list[str]:
    """Names of the pretrained checkpoints, optionally only those of one architecture."""
    return sorted(
        name
        for name, info in load_catalog().items()
        if architecture is None or info.architecture == architecture
    )


def get_pretrained_info(name: str) -> PretrainedInfo:
    """Return the catalog entry ``name``.

    Raises:
        GanzooError: for an unknown name, with the closest known names.

    """
    catalog = load_catalog()
    if name not in catalog:
        raise GanzooError(
            f"no pretrained model '{name}'{did_you_mean(name, catalog)} (`ganzoo list` shows all)"
        )
    return catalog[name]
