"""``ganzoo push``: publish a checkpoint folder to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganzoo.cli.common import friendly


@friendly
def push(
    folder: Annotated[
        Path, typer.Argument(help="A checkpoint folder (config.json + model.safetensors).")
    ],
    repo_id: Annotated[str, typer.Argument(help="Hub repo id, e.g. me/my-sgan.")],
    private: Annotated[bool, typer.Option("--private", help="Create the repo as private.")] = False,
    token: Annotated[
        str | None, typer.Option("--token", help="Hub token (default: the logged-in one).")
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m")] = "Upload ganzoo checkpoint",
) -> None:
    """Publish a checkpoint folder to the Hugging Face Hub."""
    from ganzoo.hub import push as push_folder

    typer.echo(push_folder(folder, repo_id, private=private, token=token, commit_message=message))
