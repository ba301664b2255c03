"""What a finished run leaves for users: the model in the Hub format and ``train_summary.json``.

Both the Python API (:meth:`ganzoo.trainers.base.Trainer.fit`) and ``ganzoo train``
go through here, so a run folder holds the same files whichever started it.
``train_summary.json`` is what ``scripts/bundle_pretrained.py`` reads (``command``,
``steps``, ``seconds``, ``device``, ``torch``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

SUMMARY_NAME = "train_summary.json"


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
        tmp = folder / f".samples.png.tmp{os.getpid()}"
        shutil.copyfile(sample_grid, tmp)
        os.replace(tmp, folder / "samples.png")
        samples = "samples.png"
    return export_pretrained(
        model, folder, metrics=metrics, samples=samples, command=command, training=training
    )


def run_pictures(folder: Path) -> list[str]:
    """The run's plots and sample grids, sorted."""
    return sorted(str(p) for sub in ("plots", "samples") for p in (folder / sub).glob("*.png"))


def write_summary(folder: str | Path, summary: Mapping[str, Any]) -> Path:
    """Write ``<run>/train_summary.json`` atomically."""
    path = Path(folder) / SUMMARY_NAME
    tmp = path.with_name(f".{SUMMARY_NAME}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(dict(summary), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
