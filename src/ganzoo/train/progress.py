"""The training progress bar on stderr (rich), shown by the main process unless quiet."""

from __future__ import annotations

from typing import Any


def progress_bar(disable: bool) -> Any:
    """A rich ``Progress``: description, bar, ``step/total``, time left and a free field."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(stderr=True),
        disable=disable,
        transient=False,
    )
