"""What a finished run leaves for users: the model in the Hub format and ``train_summary.json``.

Both the Python API (:meth:`ganzoo.train.base.Trainer.fit`) and ``ganzoo train``
go through here, so a run folder holds the same files whichever started it.
``train_summary.json`` is what ``scripts/bundle_pretrained.py`` reads (``command``,
``steps``, ``seconds``, ``device``, ``torch``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ganzoo.hub import ONLINE_WEIGHTS_NAME
from ganzoo.io import atomic
from ganzoo.train.callbacks import KeepBest
from ganzoo.train.config import TrainResult
from ganzoo.train.state import run_command

SUMMARY_NAME = "train_summary.json"

#: What is exported: a :class:`ganzoo.train.base.Trainer`.
TrainerLike = Any


def training_facts(trainer: TrainerLike) -> dict[str, Any]:
    """What the model card's Training section says about ``trainer``'s run."""
    return {
        "data": data_fact(trainer.data),
        "steps": trainer.step,
        "seed": trainer.config.seed,
        "device": str(trainer.device),
        "wall time of the last fit (s)": round(time.perf_counter() - trainer.fit_started, 1),
    }


#: The files of an export that one export may leave out (removed from the folder then).
EXPORT_OPTIONAL = (ONLINE_WEIGHTS_NAME, "samples.png")


def data_fact(data: Any) -> str:
    """The training data as a card says it: its name (no local path), size and fingerprint.

    ``"folder:cats, 16 images, fingerprint 0123456789abcdef (labels fedcba9876543210)"``:
    the hashes of :func:`ganzoo.train.run_folder.dataset_fingerprint`, which a resume
    also checks.
    """
    from ganzoo.card_text import public_path
    from ganzoo.train.run_folder import dataset_fingerprint

    record = dataset_fingerprint(data)
    text = f"{public_path(str(record['name']))}, {record['size']} images, "
    text += f"fingerprint {record['images']}"
    return text + (f" (labels {record['labels']})" if "labels" in record else "")


def export_trainer(
    trainer: TrainerLike, folder: str | Path, metrics: Mapping[str, Any] | None = None
) -> Path:
    """Write ``trainer``'s model (EMA weights where kept) as a Hub folder with a model card.

    The files replace an earlier export together
    (:func:`ganzoo.io.atomic.write_files_together`): a crash leaves the earlier
    export's files or this one's, never a mix. The run's newest sample grid goes in
    as ``samples.png``.

    Raises:
        GanzooError: when the disk is full (the earlier export is then intact).

    """
    atomic.write_files_together(
        folder, lambda staged: export_files(trainer, staged, metrics), owned=EXPORT_OPTIONAL
    )
    return Path(folder)


def export_files(
    trainer: TrainerLike, folder: Path, metrics: Mapping[str, Any] | None = None
) -> Path:
    """Write the files of :func:`export_trainer` into ``folder`` (a fresh folder)."""
    from ganzoo.train.init_from import online_state, write_online_weights

    grid = trainer.run.newest_sample_grid(trainer.step) if trainer.run is not None else None
    model = trainer.model
    earlier = list(getattr(model, "lineage", []) or [])
    online = online_state(trainer)
    model.lineage = run_lineage(trainer, metrics)
    try:
        with trainer.ema_weights():
            folder = export_model(
                model,
                folder,
                metrics=metrics,
                command=run_command(trainer),
                training=training_facts(trainer),
                sample_grid=grid,
            )
        write_online_weights(online, folder)
        return folder
    finally:
        model.lineage = earlier


def summary(trainer: TrainerLike, result: TrainResult) -> dict[str, Any]:
    """The run's summary, as ``train_summary.json`` holds it (``ganzoo train`` prints it)."""
    return {
        "command": trainer.command,
        "out": str(result.out_dir) if result.out_dir is not None else None,
        "pictures": run_pictures(result.out_dir) if result.out_dir else [],
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "device": device_name(trainer.device),
        "torch": torch.__version__,
        **{f"train/{k}": v for k, v in result.metrics.items()},
        **result.evaluation,
        **best_summary(trainer),
        **lineage_summary(trainer, result),
    }


def run_lineage(
    trainer: TrainerLike, metrics: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The model's lineage with this run's leg added.

    The leg is appended, or folded into the leg it continues where the run is a later
    stage (a VQ-VAE's prior).
    """
    from ganzoo import __version__
    from ganzoo.lineage import extend, fold_stage, make_leg
    from ganzoo.registry import continues_a_stage

    leg = make_leg(
        init_from=trainer.init_source,
        command=run_command(trainer),
        steps=trainer.step,
        seconds=trainer.train_seconds(),
        device=device_name(trainer.device),
        metrics=metrics,
        version=__version__,
    )
    add = fold_stage if continues_a_stage(type(trainer)) else extend
    return add(list(getattr(trainer.model, "lineage", []) or []), leg)


def lineage_summary(trainer: TrainerLike, result: TrainResult) -> dict[str, Any]:
    """The earlier legs and the total steps as the model card counts them (or nothing).

    Nothing for a run without earlier legs that did not start from a checkpoint.
    """
    from ganzoo.lineage import total_steps

    legs = run_lineage(trainer, result.metrics)
    if len(legs) < 2 and trainer.init_source is None:
        return {}
    return {
        "init_from": trainer.init_source,
        "lineage": legs[:-1],
        "total_steps": total_steps(legs),
    }


def best_summary(trainer: TrainerLike) -> dict[str, Any]:
    """The kept-best model's metric, value and step, when the run keeps one."""
    for callback in getattr(trainer, "callbacks", []):
        if isinstance(callback, KeepBest):
            return callback.summary()
    return {}


def device_name(device: torch.device) -> str:
    """``"cuda (NVIDIA H200)"`` for a GPU, else the device type, for run summaries."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return str(device)


def export_model(
    model: Any,
    folder: str | Path,
    *,
    metrics: Mapping[str, Any] | None,
    command: str | None,
    training: Mapping[str, Any],
    sample_grid: Path | None = None,
) -> Path:
    """Write ``model`` as a Hub folder with a model card; ``sample_grid`` becomes ``samples.png``.

    Each file is written atomically (a temporary name, then a rename).
    """
    from ganzoo.hub import export_pretrained

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    samples = None
    if sample_grid is not None:
        atomic.copy_file(sample_grid, folder / "samples.png")
        samples = "samples.png"
    return export_pretrained(
        model, folder, metrics=metrics, samples=samples, command=command, training=training
    )


def run_pictures(folder: Path) -> list[str]:
    """The run's plots and sample grids, sorted."""
    return sorted(str(p) for sub in ("plots", "samples") for p in (folder / sub).glob("*.png"))


def write_summary(folder: str | Path, summary: Mapping[str, Any]) -> Path:
    """Write ``<run>/train_summary.json`` atomically."""
    return atomic.write_text(
        Path(folder) / SUMMARY_NAME, json.dumps(dict(summary), indent=2) + "\n"
    )


def finish_run(trainer: TrainerLike, result: TrainResult) -> None:
    """Fill ``result.summary``, and write the run folder's model and ``train_summary.json``.

    Files are written only by the main process of a run with a folder; the model goes
    through ``trainer.export`` with the last evaluation as its metrics. The model's
    files and the summary replace the earlier ones together
    (:func:`ganzoo.io.atomic.write_files_together`), so they always describe the same
    weights, even after a crash.
    """
    run = trainer.run
    if run is None or not trainer.is_main:
        result.summary = summary(trainer, result)
        return

    def write(staged: Path) -> None:
        trainer.export(staged, metrics=trainer.last_evaluation)
        result.summary = summary(trainer, result)
        write_summary(staged, result.summary)

    atomic.write_files_together(run.path, write, owned=EXPORT_OPTIONAL)
