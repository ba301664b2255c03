"""``ganzoo train``: train an architecture into a run folder that loads like a checkpoint."""

from __future__ import annotations

import json
import shlex
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from ganzoo.cli.common import DataRoot, Device, Quiet, _fail, _parse_sets, friendly
from ganzoo.errors import GanzooError, GanzooWarning


@friendly
def train(
    architecture: Annotated[str, typer.Argument(help="An architecture (`ganzoo list`).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run folder (becomes a Hub-format checkpoint).")
    ],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Default: the model's own.")
    ] = None,
    labels: Annotated[
        int | None, typer.Option("--labels", help="Labeled examples (semi-supervised).")
    ] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Optimisation steps.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", "-b")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", "-s")] = None,
    preset: Annotated[
        str | None, typer.Option("--preset", help="Model preset (default: report).")
    ] = None,
    recipe: Annotated[
        str | None, typer.Option("--recipe", help="Training recipe (e.g. report, best).")
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="Training stage, e.g. prior for a VQ-VAE (default: first)."),
    ] = None,
    start_from: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="The trained model a later --stage continues (folder or pretrained name).",
        ),
    ] = None,
    init_from: Annotated[
        str | None,
        typer.Option(
            "--init-from",
            help="Start from this checkpoint's networks (pretrained name, Hub id or folder) "
            "with fresh optimisers: fine-tuning, or a next leg of a long training.",
        ),
    ] = None,
    precision: Annotated[str | None, typer.Option("--precision", help="fp32 or bf16.")] = None,
    ema: Annotated[float | None, typer.Option("--ema", help="EMA decay of the generator.")] = None,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="Trainer option key=value (repeatable).")
    ] = None,
    model_sets: Annotated[
        list[str] | None, typer.Option("--model-set", help="Model config key=value (repeatable).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/checkpoint.")] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Write into an --out folder that is not empty and not a ganzoo run."
        ),
    ] = False,
    data_root: DataRoot = None,
    download: Annotated[
        bool, typer.Option("--download", help="Download a missing data set.")
    ] = False,
    device: Device = None,
    quiet: Quiet = False,
) -> None:
    """Train an architecture; the run folder ends up loadable by from_pretrained.

    Ctrl-C or SIGTERM stops after the current step with a checkpoint saved (exit 130 or
    143); --resume continues it. An architecture trained in stages (a VQ-VAE: its
    autoencoder, then a prior over its codes) trains its first stage by default; a later
    stage continues a trained model into a new run folder:
    --stage prior --from runs/vq --out runs/vq-prior. --init-from dcgan-art64
    starts a new run from a checkpoint's networks (fine-tuning on --dataset
    folder:DIR, or a next leg), and the model card records the lineage.

    Under torchrun only rank 0 prints (the summary, progress and warnings).
    """
    from ganzoo.distributed import launch_rank, leave_distributed
    from ganzoo.registry import get_trainer_entry
    from ganzoo.train.launch import train as run_training
    from ganzoo.train.signals import TrainingInterrupted

    if launch_rank() > 0:  # the same warnings as rank 0's, about the same options and data
        warnings.filterwarnings("ignore", category=GanzooWarning)

    overrides = _parse_sets(sets or [])
    named = {
        "labels": labels,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "precision": precision,
        "ema_decay": ema,
        "device": device,
    }
    entry = get_trainer_entry(architecture, stage)
    fields = set(entry.cls.config_class.__dataclass_fields__)
    for key, value in named.items():
        if value is None:
            continue
        if key not in fields:
            which = f"'{architecture}' trainer" + (f" (stage '{stage}')" if stage else "")
            raise GanzooError(f"--{key.replace('_', '-')} is not an option of the {which}")
        overrides[key] = value
    if quiet:
        overrides["quiet"] = True
    try:
        trainer, result = run_training(
            entry,
            out_dir=out,
            dataset=dataset,
            preset=preset,
            recipe=recipe,
            start_from=start_from,
            init_from=init_from,
            resume=resume,
            overwrite=overwrite,
            data_root=data_root,
            download=download,
            model_overrides=_parse_sets(model_sets or []),
            command="ganzoo " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            **overrides,
        )
    except TrainingInterrupted as exc:
        if launch_rank() > 0:  # rank 0 says where its checkpoint is
            raise typer.Exit(exc.exit_code) from None
        raise _fail(str(exc), exc.exit_code) from None
    leave_distributed()  # every rank, once its run is written
    if not trainer.is_main:
        return  # rank 0 prints the run's one summary
    folders = sorted({str(Path(p).parent) for p in result.summary.get("pictures", [])})
    if folders and not quiet:  # only the folders that hold pictures (samples/ may not exist)
        typer.echo(f"pictures of the run: {' and '.join(folders)}", err=True)
    typer.echo(json.dumps(result.summary))  # the trainer wrote it to <out>/train_summary.json
