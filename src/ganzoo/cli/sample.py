"""``ganzoo sample``: draw images from a generative model and save them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganzoo.cli.common import (
    Device,
    Overwrite,
    Quiet,
    Revision,
    _check_positive,
    _check_writable,
    _load,
    _MemoryGuard,
    friendly,
)
from ganzoo.config import check_seed
from ganzoo.errors import GanzooError


@friendly
def sample(
    name: Annotated[str, typer.Argument(help="Pretrained name, Hub repo id or checkpoint folder.")],
    out: Annotated[
        str,
        typer.Option(
            "--out", "-o", help="grid.png (.jpg...), images.npy, images.npz or a folder of PNGs."
        ),
    ],
    n: Annotated[int, typer.Option("-n", "--num", help="How many images.")] = 64,
    seed: Annotated[
        int | None, typer.Option("--seed", "-s", help="Seed (same seed, same images).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", help="Images per forward pass (at most 1024).")
    ] = 256,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            help="Class to draw, for a conditional generator (repeat, or a comma list: "
            "equal consecutive blocks of the -n images).",
        ),
    ] = None,
    overwrite: Overwrite = False,
    device: Device = None,
    revision: Revision = None,
    quiet: Quiet = False,
) -> None:
    """Draw images from a generative model and save them."""
    _check_positive("-n", n)
    _check_positive("--batch-size", batch_size)
    check_seed(seed)
    classes = _parse_labels(label)
    from ganzoo.io.images import check_output, save_samples
    from ganzoo.sampling import MAX_BATCH_SIZE, NonFiniteSamples, label_blocks, sample_batches

    check_output(out, overwrite)
    path = Path(out)
    _check_writable(path)
    if batch_size > MAX_BATCH_SIZE:
        if not quiet:
            typer.echo(f"note: drawing {MAX_BATCH_SIZE} images per forward pass", err=True)
        batch_size = MAX_BATCH_SIZE
    import torch

    model = _load(name, device, revision).to(memory_format=torch.channels_last)  # faster convs
    labels = None
    if classes:
        if not model.conditional:
            from ganzoo.archs.sgan.conditional import conditional_generators

            raise GanzooError(
                f"--label needs a conditional generator and '{name}' has none; "
                f"{conditional_generators()}"
            )
        known = model.config.num_classes
        outside = [c for c in classes if not 0 <= c < known]
        if outside:
            raise GanzooError(
                f"--label must be between 0 and {known - 1} (the classes of '{name}'), "
                f"got {outside[0]}"
            )
        labels = label_blocks(classes, n)
    with _MemoryGuard(batch_size, model.device):
        batches = sample_batches(model, n, batch_size, seed=seed, labels=labels)
        try:
            save_samples(batches, path, n, value_range=model.value_range, overwrite=overwrite)
        except NonFiniteSamples as exc:
            raise exc.named(name) from None
    if not quiet:
        which = f" (label {', '.join(map(str, classes))})" if classes else ""
        typer.echo(f"wrote {n} samples of {name}{which} to {path}", err=True)
    typer.echo(str(path))


def _parse_labels(values: list[str] | None) -> list[int]:
    """``--label 3 --label 5,7`` as ``[3, 5, 7]``; one line for anything but integers."""
    classes: list[int] = []
    for value in values or []:
        for part in value.split(","):
            part = part.strip()
            if not part.isascii() or not part.removeprefix("-").isdigit():
                raise GanzooError(
                    f"--label takes class indices (e.g. --label 7 or --label 3,5), got '{part}'"
                )
            classes.append(int(part))
    return classes
