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


def list_pretrained(architecture: str | None = None, *, dataset: str | None = None) -> list[str]:
    """Names of the pretrained checkpoints: all of them, or those that match the filters.

    A filter matches a catalog entry's field exactly, in any case; with both, a name
    must match both. The filters are checked against the catalog first, so the usual
    calls read no more than ``catalog.json`` (no torch).

    Args:
        architecture: keep the checkpoints of this architecture (a name from
            :func:`ganzoo.list_models`, e.g. ``"vqvae"``). It is also the first
            positional argument, as before: ``list_pretrained("sgan")``.
        dataset: keep the checkpoints trained on this data set (e.g. ``"mnist"``; the
            spellings ``load_dataset`` accepts, such as ``"cifar-10"``, work too).

    Returns:
        The matching names, sorted. The list is empty when an architecture or data set
        ganzoo knows has no pretrained checkpoint, or when no checkpoint matches both
        filters.

    Raises:
        GanzooError: one line, for an architecture or a data set ganzoo does not know,
            naming the closest and the known values.

    Examples:
        >>> import ganzoo
        >>> ganzoo.list_pretrained(architecture="vqvae")
        ['vqvae-cifar10', 'vqvae-mnist']
        >>> ganzoo.list_pretrained(architecture="DCGAN", dataset="art64")
        ['dcgan-art64']

    """
    catalog = load_catalog()
    wanted_arch = None if architecture is None else _known_architecture(architecture)
    wanted_data = None if dataset is None else _known_dataset(dataset)
    return sorted(
        name
        for name, info in catalog.items()
        if (wanted_arch is None or info.architecture.lower() == wanted_arch)
        and (wanted_data is None or info.dataset.lower() == wanted_data)
    )


def _known_architecture(value: str) -> str:
    """``value`` lowercased, once known as an architecture of the catalog or the registry.

    Raises:
        GanzooError: for an architecture neither has, naming the known ones.

    """
    wanted = value.strip().lower()
    if wanted in {info.architecture.lower() for info in load_catalog().values()}:
        return wanted
    from ganzoo.registry import list_models  # only now: it imports the architectures

    known = sorted({*list_models(), *(info.architecture for info in load_catalog().values())})
    if wanted in {name.lower() for name in known}:
        return wanted  # registered, but no checkpoint of it ships
    raise GanzooError(
        f"unknown architecture '{value}'{did_you_mean(wanted, known)} (known: {', '.join(known)})"
    )


def _known_dataset(value: str) -> str:
    """``value`` lowercased (an alias turned into its name), once known as a data set.

    A data set is known when a catalog entry was trained on it or when
    :func:`ganzoo.data.load_dataset` accepts it by name.

    Raises:
        GanzooError: for a data set neither knows, naming the known ones.

    """
    wanted = value.strip().lower()
    in_catalog = {info.dataset.lower() for info in load_catalog().values()}
    if wanted in in_catalog:
        return wanted
    from ganzoo.data.sources import SOURCES  # only now: it imports torch

    spellings = {
        spelling.lower(): name
        for name, source in SOURCES.items()
        if source.path is None
        for spelling in (name, *source.aliases)
    }
    if wanted in spellings:
        return spellings[wanted].lower()
    known = sorted({*in_catalog, *spellings.values()})
    close = did_you_mean(wanted, sorted({*in_catalog, *spellings}))
    raise GanzooError(f"unknown dataset '{value}'{close} (known: {', '.join(known)})")


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
