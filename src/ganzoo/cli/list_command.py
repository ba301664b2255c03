"""``ganzoo list``: the architectures and the pretrained models, as two tables."""

from __future__ import annotations

from ganzoo.cli.common import friendly


@friendly
def list_command() -> None:
    """List the architectures and the pretrained models."""
    from rich.console import Console
    from rich.table import Table

    from ganzoo.catalog import load_catalog
    from ganzoo.registry import get_model_entry, list_models, list_trainers

    trainers = set(list_trainers())
    arch = Table(title="Architectures", title_justify="left")
    for column in ("name", "presets", "trainer", "description"):
        arch.add_column(column)
    for name in list_models():
        entry = get_model_entry(name)
        presets = ", ".join(sorted(entry.presets, key=lambda p: p != entry.default_preset))
        arch.add_row(name, presets, "yes" if name in trainers else "-", entry.description)
    pre = Table(title="Pretrained models", title_justify="left")
    for column in ("name", "architecture", "dataset", "metrics", "where"):
        pre.add_column(column)
    for info in load_catalog().values():
        metrics = ", ".join(f"{k} {v}" for k, v in info.metrics.items())
        where = "bundled" if info.bundled else (info.repo_id or "-")
        pre.add_row(info.name, info.architecture, info.dataset, metrics, where)
    console = Console()
    console.print(arch)
    console.print(pre)
