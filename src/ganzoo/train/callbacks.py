"""Trainer callbacks (pythae's pattern): hooks into the loop, one job each.

Periodic work follows one rule. A callback with ``every > 0`` has its :meth:`Callback.run`
called by the loop after every step that is a multiple of ``every``; with ``at_end``
it runs once more after the last step (unless it has just run at that step). The
built-in jobs are evaluation (:class:`Evaluation`), sample grids (:class:`SampleGrid`),
checkpoints (:class:`Checkpoints`) and plots (:class:`TrainingPlots`, at the end only).

A callback may also override the event hooks :meth:`Callback.on_fit_start`,
:meth:`Callback.on_step_end`, :meth:`Callback.on_log`, :meth:`Callback.on_evaluate` and
:meth:`Callback.on_fit_end`. Callbacks run on the main process only (rank 0 under
``torchrun``), except :class:`NaNGuard`, which every process runs.

This module imports nothing of the loop: the ``trainer`` every method receives is a
:class:`ganzoo.train.base.Trainer`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.io import atomic
from ganzoo.train.plots import plot_run

#: What callbacks receive: the running :class:`ganzoo.train.base.Trainer`.
TrainerLike = Any


class TrainingDiverged(GanzooError):
    """A loss became NaN or infinite; training stopped and kept the last good checkpoint."""


class Callback:
    """Base class: every hook does nothing.

    Attributes:
        every: steps between calls of :meth:`run` (0: never periodically).
        at_end: call :meth:`run` once more after the last step.
        all_ranks: whether non-main processes run this callback too.

    """

    every: int = 0
    at_end: bool = False
    all_ranks: bool = False

    def run(self, trainer: TrainerLike, step: int) -> None:
        """The periodic job, called every ``every`` steps (and at the end if ``at_end``)."""

    def on_fit_start(self, trainer: TrainerLike) -> None:
        """Called once before the first step."""

    def on_step_end(self, trainer: TrainerLike, step: int) -> None:
        """Called after every optimisation step (``step`` counts from 1)."""

    def on_log(self, trainer: TrainerLike, step: int, metrics: dict[str, float]) -> None:
        """Called with the averaged training metrics every ``log_every`` steps."""

    def on_evaluate(self, trainer: TrainerLike, step: int, metrics: dict[str, float]) -> None:
        """Called with the results of :meth:`Trainer.evaluate`."""

    def on_fit_end(self, trainer: TrainerLike) -> None:
        """Called once after the last step."""


class NaNGuard(Callback):
    """Stops training when a logged loss is NaN or infinite.

    The last checkpoint on disk was written from finite values (the guard runs when
    the metrics are logged, before any checkpoint of that step), so it stays the one
    to resume from.
    """

    all_ranks = True

    def on_log(self, trainer: TrainerLike, step: int, metrics: dict[str, float]) -> None:
        """Raise :class:`TrainingDiverged` naming the first non-finite metric."""
        for name, value in metrics.items():
            if not math.isfinite(value):
                where = trainer.checkpoint_dir if trainer.has_checkpoint() else "none written"
                raise TrainingDiverged(
                    f"'{name}' became {value} by step {step}; training stopped "
                    f"(last good checkpoint: {where}); lower the learning rate or use fp32"
                )


class SampleGrid(Callback):
    """Saves a grid of samples every ``every`` steps to ``<out>/samples/step_XXXXXX.png``.

    The latents are fixed (``seed``), so successive grids show the same points.
    """

    def __init__(self, every: int, n: int = 100, seed: int = 1234) -> None:
        self.every = every
        self.n = n
        self.seed = seed
        self.paths: list[Path] = []

    def run(self, trainer: TrainerLike, step: int) -> None:
        """Save the grid of this step."""
        from ganzoo.io.images import save_grid

        images = trainer.sample_images(self.n, seed=self.seed)
        if images is None or trainer.out_dir is None:
            return
        path = trainer.out_dir / "samples" / f"step_{step:06d}.png"
        side = int(math.sqrt(self.n))
        nrow = side if side * side == self.n else None
        self.paths.append(save_grid(images, path, nrow=nrow, value_range=trainer.model.value_range))


class Evaluation(Callback):
    """Runs :meth:`Trainer.evaluate` every ``every`` steps and after the last step."""

    at_end = True

    def __init__(self, every: int) -> None:
        self.every = every

    def run(self, trainer: TrainerLike, step: int) -> None:
        """Evaluate, log the results and pass them to the callbacks' ``on_evaluate``."""
        trainer.run_evaluation(step)


class Checkpoints(Callback):
    """Writes ``<out>/checkpoint`` every ``every`` steps and after the last step."""

    at_end = True

    def __init__(self, every: int) -> None:
        self.every = every

    def run(self, trainer: TrainerLike, step: int) -> None:
        """Save the resumable state of this step."""
        trainer.save_checkpoint()


class TrainingPlots(Callback):
    """Draws the run's loss and accuracy curves into ``<out>/plots/`` after the last step."""

    at_end = True

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def run(self, trainer: TrainerLike, step: int) -> None:
        """Plot from ``metrics.jsonl`` (says so on stderr if matplotlib is missing)."""
        if trainer.out_dir is None or not (trainer.out_dir / "metrics.jsonl").is_file():
            return
        self.paths = plot_run(trainer.out_dir)
        if not self.paths and not trainer.config.quiet:
            print("plots skipped: install matplotlib (pip install matplotlib)", file=sys.stderr)


#: Evaluation metrics for which lower is better (any other name: higher is better).
LOWER_IS_BETTER = frozenset({"fid", "kid", "loss", "test_loss"})


class KeepBest(Callback):
    """Exports the model to ``<out>/best`` whenever ``metric`` improves on evaluation.

    ``<out>/best/best.json`` records the metric, its value and the step, so that a
    resumed run goes on from the best so far instead of overwriting it with a worse one.

    Args:
        metric: name of an evaluation metric, e.g. ``"test_accuracy"`` or ``"fid"``.
        mode: ``"max"``, ``"min"``, or ``None`` for ``"min"`` when the metric is in
            :data:`LOWER_IS_BETTER` and ``"max"`` otherwise.

    """

    record_name = "best.json"

    def __init__(self, metric: str, mode: str | None = None) -> None:
        mode = mode or ("min" if metric in LOWER_IS_BETTER else "max")
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.metric = metric
        self.mode = mode
        self.best: float | None = None
        self.best_step: int | None = None

    def on_fit_start(self, trainer: TrainerLike) -> None:
        """Take up the best so far from ``<out>/best/best.json`` (a resumed run)."""
        if trainer.out_dir is None or trainer.step == 0:
            return
        record = read_best_record(trainer.out_dir / "best" / self.record_name)
        ours = record is not None and record["metric"] == self.metric
        if ours and record["step"] <= trainer.step:
            self.best, self.best_step = record["value"], record["step"]

    def on_evaluate(self, trainer: TrainerLike, step: int, metrics: dict[str, float]) -> None:
        """Export when the metric beats the best so far."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        better = self.best is None or (
            value > self.best if self.mode == "max" else value < self.best
        )
        if better and trainer.out_dir is not None:
            self.best, self.best_step = value, step
            folder = trainer.out_dir / "best"
            trainer.export(folder, metrics={**metrics, "step": step})
            record = {"metric": self.metric, "value": value, "step": step, "mode": self.mode}
            atomic.write_text(folder / self.record_name, json.dumps(record, indent=2) + "\n")

    def summary(self) -> dict[str, Any]:
        """``{"best/metric", "best/value", "best/step"}`` for the run summary (empty before any)."""
        if self.best_step is None:
            return {}
        return {"best/metric": self.metric, "best/value": self.best, "best/step": self.best_step}


def read_best_record(path: Path) -> dict[str, Any] | None:
    """The ``best.json`` of a run, or ``None`` when it is missing or not a valid record."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    metric, value, step = record.get("metric"), record.get("value"), record.get("step")
    valid = (
        isinstance(metric, str)
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and isinstance(step, int)
        and not isinstance(step, bool)
        and step >= 0
    )
    return {"metric": metric, "value": float(value), "step": step} if valid else None
