"""Trainer callbacks (pythae's pattern): hooks into the loop, one job each.

A callback overrides any of :meth:`Callback.on_fit_start`, :meth:`Callback.on_step_end`,
:meth:`Callback.on_log`, :meth:`Callback.on_evaluate` and :meth:`Callback.on_fit_end`.
They run on the main process only (rank 0 under ``torchrun``), except
:class:`NaNGuard`, which every process runs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ganzoo.errors import GanzooError

if TYPE_CHECKING:
    from ganzoo.trainers.base import Trainer


class TrainingDiverged(GanzooError):
    """A loss became NaN or infinite; training stopped and kept the last good checkpoint."""


class Callback:
    """Base class: every hook does nothing."""

    #: Whether non-main processes run this callback too.
    all_ranks: bool = False

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first step."""

    def on_step_end(self, trainer: Trainer, step: int) -> None:
        """Called after every optimisation step (``step`` counts from 1)."""

    def on_log(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        """Called with the averaged training metrics every ``log_every`` steps."""

    def on_evaluate(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        """Called with the results of :meth:`Trainer.evaluate`."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once after the last step."""


class NaNGuard(Callback):
    """Stops training when a logged loss is NaN or infinite.

    The last checkpoint on disk was written from finite values, so it stays the one to
    resume from.
    """

    all_ranks = True

    def on_log(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
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

    The latents are fixed at the start, so successive grids show the same points.
    """

    def __init__(self, every: int, n: int = 100, seed: int = 1234) -> None:
        self.every = every
        self.n = n
        self.seed = seed
        self.paths: list[Any] = []

    def _save(self, trainer: Trainer, step: int) -> None:
        from ganzoo.sampling import save_grid

        images = trainer.sample_images(self.n, seed=self.seed)
        if images is None or trainer.out_dir is None:
            return
        path = trainer.out_dir / "samples" / f"step_{step:06d}.png"
        nrow = int(math.sqrt(self.n)) if int(math.sqrt(self.n)) ** 2 == self.n else None
        self.paths.append(save_grid(images, path, nrow=nrow, value_range=trainer.model.value_range))

    def on_step_end(self, trainer: Trainer, step: int) -> None:
        """Save a grid when ``step`` is a multiple of ``every``."""
        if self.every > 0 and step % self.every == 0:
            self._save(trainer, step)


class Evaluation(Callback):
    """Runs :meth:`Trainer.evaluate` every ``every`` steps and at the end of training."""

    def __init__(self, every: int) -> None:
        self.every = every

    def on_step_end(self, trainer: Trainer, step: int) -> None:
        """Evaluate when ``step`` is a multiple of ``every``."""
        if self.every > 0 and step % self.every == 0 and step != trainer.config.steps:
            trainer.run_evaluation(step)

    def on_fit_end(self, trainer: Trainer) -> None:
        """Evaluate the final model (once)."""
        trainer.run_evaluation(trainer.step)


class KeepBest(Callback):
    """Exports the model to ``<out>/best`` whenever ``metric`` improves on evaluation.

    Args:
        metric: name of an evaluation metric, e.g. ``"test_accuracy"``.
        mode: ``"max"`` or ``"min"``.

    """

    def __init__(self, metric: str, mode: str = "max") -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.metric = metric
        self.mode = mode
        self.best: float | None = None
        self.best_step: int | None = None

    def on_evaluate(self, trainer: Trainer, step: int, metrics: dict[str, float]) -> None:
        """Export when the metric beats the best so far."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        better = self.best is None or (
            value > self.best if self.mode == "max" else value < self.best
        )
        if better and trainer.out_dir is not None:
            self.best, self.best_step = value, step
            trainer.export(trainer.out_dir / "best", metrics={**metrics, "step": step})
