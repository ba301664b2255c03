"""``ganzoo encode``: encode images with a model's encoder and save the codes."""

from __future__ import annotations

from typing import Annotated

import typer

from ganzoo.cli.common import (
    DataRoot,
    Device,
    Download,
    Overwrite,
    Quiet,
    Revision,
    _check_positive,
    _check_writable,
    _load,
    _load_input,
    _MemoryGuard,
    friendly,
)


@friendly
def encode(
    name: Annotated[str, typer.Argument(help="Pretrained name, Hub repo id or checkpoint folder.")],
    data: Annotated[
        str,
        typer.Argument(
            help="A data set (mnist, cifar10...), an image, an .npz file or a folder of images."
        ),
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="Output .npz file.")],
    split: Annotated[str, typer.Option("--split", help="train, test or all.")] = "test",
    batch_size: Annotated[int, typer.Option("--batch-size", "-b")] = 500,
    overwrite: Overwrite = False,
    data_root: DataRoot = None,
    download: Download = False,
    device: Device = None,
    revision: Revision = None,
    quiet: Quiet = False,
) -> None:
    """Encode images with a model's encoder and save the codes as an .npz file.

    A VQ-VAE's code grids are saved as integers (int16, or int32 for codebooks over
    32,768 codes) under the key codes; labels, when the data has them, under labels.
    """
    _check_positive("--batch-size", batch_size)
    from ganzoo.encoding import check_codes_path, encode_dataset, save_codes

    path = check_codes_path(out, overwrite)
    _check_writable(path)
    model = _load(name, device, revision)
    if not model.can("encode"):
        raise model._unsupported("encode")
    dataset = _load_input(data, split, data_root, model, download)
    with _MemoryGuard(batch_size, model.device):
        codes = encode_dataset(model, dataset, batch_size)
    path = save_codes(codes, path, overwrite)
    if not quiet:
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in codes.items())
        typer.echo(f"encoded {len(dataset)} images: {shapes}", err=True)
    typer.echo(str(path))
