"""``ganzoo list``: the architectures and the pretrained models, as two tables.

The names are what users type, so no width cuts them: the name columns never wrap
nor shrink. When the terminal is too narrow for a metrics column beside the
architecture, data set and source columns, the pretrained models take two
columns, the name and everything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ganzoo.cli.common import friendly

if TYPE_CHECKING:
    from rich.table import Table

    from ganzoo.catalog import PretrainedInfo

#: Narrowest metrics column of the wide pretrained table (a metric name and its value).
METRICS_MIN_WIDTH = 30
#: Columns a rich table with the default box spends per column (a rule, two spaces).
_PER_COLUMN = 3
#: The pretrained table's columns that never wrap besides the name, by row index.
_SHORT_COLUMNS = ((1, "architecture"), (2, "dataset"), (4, "where"))


@friendly
def list_command(
    architecture: Annotated[
        str | None,
        typer.Option(
            "--architecture",
            "-a",
            help="Only the pretrained models of this architecture (e.g. dcgan).",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset", "-d", help="Only the pretrained models trained on this data set."
        ),
    ] = None,
) -> None:
    """List the architectures and the pretrained models.

    With --architecture or --dataset (exact names, any case), only the pretrained
    models that match, as ganzoo.list_pretrained(architecture=..., dataset=...) does.
    """
    from rich.console import Console

    from ganzoo.catalog import list_pretrained, load_catalog

    console = Console()
    filtered = architecture is not None or dataset is not None
    names = list_pretrained(architecture, dataset=dataset)  # unknown values: one line
    if not filtered:
        console.print(_architectures_table())
    if not names:
        asked = " and ".join(
            f"{what} '{value}'"
            for what, value in (("architecture", architecture), ("dataset", dataset))
            if value is not None
        )
        typer.echo(f"no pretrained model with {asked} (`ganzoo list` shows all)")
        return
    catalog = load_catalog()
    console.print(_pretrained_table([catalog[n] for n in names], console.width))


def _architectures_table() -> Table:
    """The registered architectures: name, presets, whether trainable, description."""
    from rich.table import Table

    from ganzoo.registry import get_model_entry, list_models, list_trainers

    trainers = set(list_trainers())
    names = list_models()
    table = Table(title="Architectures", title_justify="left")
    table.add_column("name", no_wrap=True, min_width=max(map(len, names), default=4))
    for column in ("presets", "trainer", "description"):
        table.add_column(column, overflow="fold")  # a long word folds, never cut
    for name in names:
        entry = get_model_entry(name)
        presets = ", ".join(sorted(entry.presets, key=lambda p: p != entry.default_preset))
        table.add_row(name, presets, "yes" if name in trainers else "-", entry.description)
    return table


def _pretrained_table(infos: list[PretrainedInfo], width: int) -> Table:
    """The pretrained models, in five columns where they fit ``width``, else in two."""
    from rich.table import Table

    rows = [
        (
            info.name,
            info.architecture,
            info.dataset,
            ", ".join(f"{k} {v}" for k, v in info.metrics.items()) or "-",
            "bundled" if info.bundled else (info.repo_id or "-"),
        )
        for info in infos
    ]
    table = Table(title="Pretrained models", title_justify="left")
    name_width = max(len(row[0]) for row in rows)
    table.add_column("name", no_wrap=True, min_width=name_width)
    short = [max(len(header), *(len(row[i]) for row in rows)) for i, header in _SHORT_COLUMNS]
    if width >= 1 + 5 * _PER_COLUMN + name_width + sum(short) + METRICS_MIN_WIDTH:
        table.add_column("architecture", no_wrap=True)
        table.add_column("dataset", no_wrap=True)
        table.add_column("metrics", overflow="fold", ratio=1)
        table.add_column("where", no_wrap=True)
        for row in rows:
            table.add_row(*row)
        return table
    table.add_column("architecture, dataset, where; metrics", overflow="fold", ratio=1)
    for name, arch, data, metrics, where in rows:
        table.add_row(name, f"{arch}, {data}, {where}\n{metrics}")
    return table
