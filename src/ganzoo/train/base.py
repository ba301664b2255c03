"""The one training loop every architecture shares (mimicry's pattern).

:class:`Trainer` owns the loop and nothing model-specific: device, seeds, RNG
generators, bf16 autocast, optimiser steps, step counting, the EMA, progress on
stderr, data parallelism under ``torchrun``, and the periodic jobs
(:mod:`ganzoo.train.callbacks`: evaluation, sample grids, checkpoints, plots),
all triggered the same way. The rest lives beside it:

- :mod:`ganzoo.train.config`: :class:`TrainConfig`, :class:`TrainResult` (also here);
- :mod:`ganzoo.train.state`: the resumable state a checkpoint holds, saved and
  restored bit-exactly;
- :mod:`ganzoo.train.run_folder`: the folder on disk and its rules (lock,
  marker, checkpoint files, metrics log, resume checks);
- :mod:`ganzoo.train.export`: what a finished run leaves for users (Hub folder,
  model card, ``train_summary.json``);
- :mod:`ganzoo.train.signals`: stopping cleanly on SIGINT/SIGTERM.

A subclass declares its optimisers in :meth:`Trainer.configure_optimizers` and
does one update in :meth:`Trainer.train_step`.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ganzoo import distributed
from ganzoo.config import check_at_least, check_positive
from ganzoo.data import DeviceBatcher, ImageDataset
from ganzoo.devices import bf16_is_slow, select_device
from ganzoo.errors import GanzooError, GanzooWarning
from ganzoo.train import export
from ganzoo.train.callbacks import (
    Callback,
    Checkpoints,
    Evaluation,
    KeepBest,
    NaNGuard,
    SampleGrid,
    TrainingPlots,
)
from ganzoo.train.config import TrainConfig, TrainResult
from ganzoo.train.ema import EMA
from ganzoo.train.optim import linear_decay, make_optimizer
from ganzoo.train.progress import progress_bar
from ganzoo.train.run_folder import RunFolder, dataset_fingerprint
from ganzoo.train.running_means import RunningMeans
from ganzoo.train.signals import StopSignals, TrainingInterrupted
from ganzoo.train.state import TrainingState

__all__ = [
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingInterrupted",
    "check_at_least",
    "check_positive",
]


class Trainer:
    """The shared loop. Subclasses implement :meth:`configure_optimizers` and :meth:`train_step`.

    Args:
        model: the model to train (moved to the training device).
        data: training images (kept resident on the device).
        config: loop options; a subclass may extend :class:`TrainConfig`.
        eval_data: held-out data for :meth:`evaluate` (e.g. the test split).
        callbacks: extra callbacks, after the built-in ones.

    Examples:
        >>> trainer = SGANTrainer(model, data, SGANTrainConfig(steps=2000))  # doctest: +SKIP
        >>> trainer.fit()  # doctest: +SKIP

    """

    config_class: ClassVar[type[TrainConfig]] = TrainConfig

    @classmethod
    def model_overrides(cls, config: TrainConfig) -> dict[str, Any]:
        """Model config fields a run with ``config`` needs (default: none).

        ``ganzoo train`` builds the model with them, so that a resumed run names the
        same model: an SGAN trained with a class term needs a conditional generator, a
        VQ-VAE trained with an EMA codebook needs that codebook.
        """
        del config
        return {}

    def __init__(
        self,
        model: nn.Module,
        data: ImageDataset,
        config: TrainConfig | None = None,
        *,
        eval_data: ImageDataset | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.config = config if config is not None else self.config_class()
        if not isinstance(self.config, self.config_class):
            raise GanzooError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, "
                f"got {type(self.config).__name__}"
            )
        self.config.validate()
        self.device = distributed.local_device(select_device(self.config.device))
        if self.config.precision == "bf16" and bf16_is_slow(self.device):
            warnings.warn(
                "bf16 on this CPU is emulated (no AVX-512 BF16 or AMX) and much slower than "
                "fp32; use --precision fp32 (precision='fp32')",
                GanzooWarning,
                stacklevel=2,
            )
        self.rank, self.world_size = distributed.init_distributed(self.device)
        torch.manual_seed(self.config.seed)
        self.model = model.to(self.device)
        if self.config.channels_last:
            self.model.to(memory_format=torch.channels_last)
        distributed.broadcast_module(self.model)
        self.data = data
        self.eval_data = eval_data
        self.out_dir = Path(self.config.out_dir) if self.config.out_dir else None
        #: The run folder on disk (``None`` without ``out_dir``).
        self.run = RunFolder(self.out_dir) if self.out_dir is not None else None
        self.step = 0
        #: The command line that started the run, recorded in the model card and summary.
        self.command: str | None = None
        #: The commands of the earlier fits of this run (restored on resume), oldest first.
        self.earlier_commands: list[str] = []
        self.generators: dict[str, torch.Generator] = {}
        self.noise = self.make_generator("noise")
        self.setup()
        self.optimizers = self.configure_optimizers()
        self.schedulers = self.configure_schedulers()
        ema_module = self.ema_module()
        self.ema = (
            EMA(ema_module, self.config.ema_decay)
            if self.config.ema_decay and ema_module is not None
            else None
        )
        self.callbacks = self._default_callbacks() + list(callbacks)
        self.last_metrics: dict[str, float] = {}
        #: ``time.perf_counter()`` when the last ``fit`` started (the model card's wall time).
        self.fit_started = time.perf_counter()
        #: Training seconds of earlier fits of this run (restored on resume).
        self.seconds_before = 0.0
        #: The checkpoint this run started from (:meth:`init_from`), ``None`` from scratch.
        self.init_source: str | None = None
        self.last_evaluation: dict[str, float] = {}
        self._means = RunningMeans()
        self._time_up = False  # torchrun: max_seconds spent, as the ranks agreed when logging
        #: SIGINT/SIGTERM received during ``fit`` (:mod:`ganzoo.train.signals`).
        self.stop = StopSignals()

    # ----------------------------------------------------------------- for subclasses
    def setup(self) -> None:
        """Prepare data on the device (default: one batcher over ``data``)."""
        self.batches = self.make_batcher(self.data, self.config.batch_size, "data")

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Return the optimisers by name (e.g. ``{"g": ..., "d": ...}``)."""
        raise NotImplementedError

    def configure_schedulers(self) -> dict[str, Any]:
        """Return learning-rate schedulers by name.

        Default: none, or with ``lr_decay_start < 1`` a linear decay to zero of every
        optimiser over the last part of the run (Salimans et al.'s schedule).
        """
        return linear_decay(self.optimizers, self.config.steps, self.config.lr_decay_start)

    def next_batch(self) -> Any:
        """Draw the next training batch (default: images and labels from ``data``)."""
        return self.batches.next()

    def train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """Do one optimisation step; return detached scalar tensors to log.

        Return tensors, not floats: the loop averages them on the device and syncs
        with the host only every ``log_every`` steps.
        """
        raise NotImplementedError

    def ema_module(self) -> nn.Module | None:
        """The network whose weights the EMA follows (default: none)."""
        return None

    def evaluate(self) -> dict[str, float]:
        """Measure the model on ``eval_data`` (default: nothing)."""
        return {}

    def data_fingerprint(self) -> dict[str, Any]:
        """What identifies the training data, saved with checkpoints and checked on resume.

        Default: the data set's name, size and cheap hashes of its images and labels.
        A subclass that picks from the data (e.g. a labeled subset) adds that choice.
        """
        return dataset_fingerprint(self.data)

    def sample_images(self, n: int, seed: int = 0) -> torch.Tensor | None:
        """Images for sample grids, from the EMA weights when there are some."""
        can = getattr(self.model, "can", None)
        if not hasattr(self.model, "sample") or (can is not None and not can("sample")):
            return None
        with self.ema_weights(), torch.no_grad():
            return self.model.sample(n, seed=seed, device=self.device)

    # ----------------------------------------------------------------- helpers
    def make_generator(self, name: str) -> torch.Generator:
        """A named random generator on the device, seeded from the config and rank.

        Its state is saved in checkpoints, so resumed runs draw the same numbers.
        """
        generator = torch.Generator(device=self.device)
        generator.manual_seed(distributed.stream_seed(self.config.seed, len(self.generators)))
        self.generators[name] = generator
        return generator

    def make_batcher(self, dataset: ImageDataset, batch_size: int, name: str) -> DeviceBatcher:
        """A device-resident random batcher whose generator is checkpointed under ``name``."""
        return DeviceBatcher(dataset, batch_size, self.device, generator=self.make_generator(name))

    def adam(
        self, params: Any, lr: float | None = None, betas: tuple[float, float] | None = None
    ) -> torch.optim.Optimizer:
        """Adam with the config's learning rate and betas (fused on CUDA)."""
        lr = lr if lr is not None else self.config.lr
        betas = betas or (self.config.beta1, self.config.beta2)
        return make_optimizer("adam", params, lr, betas, self.device)

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast when ``precision == "bf16"``, else a no-op."""
        if self.config.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def optimizer_step(self, name: str, loss: torch.Tensor, retain_graph: bool = False) -> None:
        """Update optimiser ``name`` from ``loss``: its own parameters' gradients only.

        Gradients are taken with ``torch.autograd.grad`` with respect to exactly the
        parameters of that optimiser, so a generator's loss never leaves gradients in the
        discriminator it flows through (the "frozen D" of GAN updates), and several losses
        of one forward pass can update different networks (``retain_graph=True``). Under
        ``torchrun`` the gradients are averaged across processes before the step.
        """
        optimizer = self.optimizers[name]
        params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
        grads = torch.autograd.grad(loss, params, retain_graph=retain_graph, allow_unused=True)
        for param, grad in zip(params, grads, strict=True):
            param.grad = grad  # None for a parameter the loss does not reach: Adam skips it
        if self.world_size > 1:
            distributed.average_gradients(params)
        optimizer.step()
        for param in params:
            param.grad = None

    @contextlib.contextmanager
    def ema_weights(self) -> Iterator[None]:
        """Temporarily put the EMA weights into the followed network."""
        target = self.ema_module()
        if self.ema is None or target is None:
            yield
            return
        saved = {k: v.clone() for k, v in target.state_dict().items()}
        target.load_state_dict(self.ema.state_dict())
        try:
            yield
        finally:
            target.load_state_dict(saved)

    def init_from(self, source: str | Path) -> None:
        """Start this run from a trained checkpoint's networks, with fresh optimisers.

        Fine-tuning (on other data, with another recipe) and continuing a long training
        in legs: the model's weights (and the EMA of its generator, where kept) come
        from ``source``, which must hold the same architecture with tensors of the same
        shapes; the run's model card and summary record the lineage. Call it before
        :meth:`fit` (``trainer.init_from("dcgan-art64"); trainer.fit()``); a resumed run
        gets all this back from its checkpoint instead.

        Args:
            source: a pretrained name, a Hub repo id, an exported folder or a run folder.

        Raises:
            GanzooError: one line, for another architecture or preset (naming both), an
                unknown source, or a trainer that has already trained.

        """
        from ganzoo.train.init_from import start_trainer

        start_trainer(self, source)

    def train_seconds(self) -> float:
        """Seconds this run has trained, over every fit (a resumed run counts earlier ones)."""
        return self.seconds_before + (time.perf_counter() - self.fit_started)

    @property
    def is_main(self) -> bool:
        """Whether this is the process that writes files (rank 0)."""
        return self.rank == 0

    @property
    def checkpoint_dir(self) -> Path | None:
        """Where the resumable checkpoint lives (``<out>/checkpoint``)."""
        return self.run.checkpoint_dir if self.run is not None else None

    def has_checkpoint(self) -> bool:
        """Whether a complete checkpoint exists on disk."""
        return self.run is not None and self.run.find_checkpoint() is not None

    def _default_callbacks(self) -> list[Callback]:
        cfg = self.config
        callbacks: list[Callback] = [NaNGuard(), Evaluation(cfg.eval_every)]
        if cfg.keep_best:
            callbacks.append(KeepBest(cfg.keep_best))
        if cfg.sample_every > 0:
            callbacks.append(SampleGrid(cfg.sample_every))
        callbacks += [TrainingPlots(), Checkpoints(cfg.checkpoint_every)]
        return callbacks

    def _emit(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            if self.is_main or callback.all_ranks:
                getattr(callback, hook)(self, *args)

    def _run_jobs(self, step: int, end: bool = False) -> None:
        """The one rule of periodic work: each job runs every ``every`` steps, and at the end."""
        for callback in self.callbacks:
            if not (self.is_main or callback.all_ranks):
                continue
            due = callback.every > 0 and step % callback.every == 0
            if end:
                due = callback.at_end and getattr(callback, "_last_run", None) != step
            if due:
                callback.run(self, step)
                callback._last_run = step  # type: ignore[attr-defined]

    # ----------------------------------------------------------------- logging
    def _log_training(
        self, progress: Any = None, task: Any = None, *, over_processes: bool = True
    ) -> None:
        """Log the metrics' means since the last log point (under torchrun: over all ranks)."""
        logged, self._time_up = self._means.flush(
            over_processes=over_processes, vote=self._time_spent()
        )
        if not logged:
            return
        self.last_metrics = logged
        self.log({"step": self.step, "kind": "train", **logged})
        self._emit("on_log", self.step, logged)
        if progress is not None:
            progress.update(task, info="  ".join(f"{k} {v:.3g}" for k, v in logged.items()))

    def log(self, record: dict[str, Any]) -> None:
        """Append one record to ``<out>/metrics.jsonl`` (main process only)."""
        if self.run is None or not self.is_main:
            return
        self.run.path.mkdir(parents=True, exist_ok=True)
        self.run.log(record)

    def run_evaluation(self, step: int) -> dict[str, float]:
        """Evaluate (on the main process), log and pass the results to callbacks."""
        if not self.is_main or self.eval_data is None:
            return {}
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad(), self.ema_weights():
            results = self.evaluate()
        self.model.train(was_training)
        if results:
            self.last_evaluation = results
            self.log({"step": step, "kind": "eval", **results})
            self._emit("on_evaluate", step, results)
        return results

    # ----------------------------------------------------------------- run state
    def save_checkpoint(self) -> Path | None:
        """Write ``<out>/checkpoint`` atomically (main process only); return it."""
        return TrainingState.save(self)  # what it holds: ganzoo.train.state

    def load_checkpoint(self, folder: str | Path | None = None) -> int:
        """Resume from ``folder``'s (default ``out_dir``'s) checkpoint; return the step.

        See :meth:`ganzoo.train.state.TrainingState.restore`. It holds rank 0's random
        generators: under ``torchrun`` the other ranks seed theirs anew (other batches).
        """
        step = TrainingState.restore(self, folder)
        for index, generator in enumerate(self.generators.values() if self.rank else ()):
            generator.manual_seed(distributed.stream_seed(self.config.seed, index, step))
        return step

    def export(self, folder: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write the model (EMA weights where kept) as a Hub folder with a model card.

        See :func:`ganzoo.train.export.export_trainer`.
        """
        return export.export_trainer(self, folder, metrics)

    # ----------------------------------------------------------------- the loop
    def _time_spent(self) -> bool:
        limit = self.config.max_seconds
        return limit is not None and time.perf_counter() - self.fit_started >= limit

    def _out_of_time(self) -> bool:
        # Under torchrun the ranks stop together: at a log point where one is out of time.
        return self._time_up if self.world_size > 1 else self._time_spent()

    @contextlib.contextmanager
    def _open_run(self, resume: bool, overwrite: bool) -> Iterator[None]:
        """Hold the run folder (main process) for the duration of ``fit``."""
        if self.run is None or not self.is_main:
            yield
            return
        with self.run.held(overwrite=overwrite, fresh=not resume and self.step == 0):
            yield

    def _interrupt(self) -> None:
        # no collective: the other processes may be inside another step (or stopped)
        self._log_training(over_processes=False)
        raise self.stop.interrupted(self.step, self.save_checkpoint())

    def fit(self, resume: bool = False, overwrite: bool = False) -> TrainResult:
        """Train to ``config.steps``; with ``resume`` continue from ``<out>/checkpoint``.

        While it runs, the run folder is locked, and SIGINT (Ctrl-C) or SIGTERM stops
        training after the current step with a checkpoint saved.

        Args:
            resume: continue the run saved in ``<out>/checkpoint`` (same config and data,
                except ``steps``, ``lr`` and how often things are logged or saved).
            overwrite: write into an ``out_dir`` that is not empty and is not a ganzoo
                run folder (files of the same names are replaced).

        Returns:
            A :class:`TrainResult`. When ``out_dir`` is set the run folder then holds the
            model in the Hub format, ``train_summary.json``, ``metrics.jsonl``, sample
            grids, plots and ``checkpoint/``.

        Raises:
            TrainingDiverged: if a loss becomes NaN or infinite.
            TrainingInterrupted: on SIGINT or SIGTERM, after saving a checkpoint.
            GanzooError: if ``out_dir`` is another process's run, or a folder that is not
                a run (unless ``overwrite``), or already holds a run and a fresh trainer
                (no step taken) is not resuming; if a resume changes what is trained.

        """
        with self._open_run(resume, overwrite):
            if resume:
                self.load_checkpoint()
            if self.run is not None and self.is_main:
                self.run.cut_log(self.step)
            with self.stop.catching():
                result = self._loop()
            export.finish_run(self, result)
        return result

    def _loop(self) -> TrainResult:
        start = self.fit_started = time.perf_counter()
        self._time_up = False
        cfg = self.config
        self.model.train()
        self._emit("on_fit_start")
        with progress_bar(disable=self.config.quiet or not self.is_main) as progress:
            task = progress.add_task(
                type(self).__name__, total=cfg.steps, completed=self.step, info=""
            )
            while self.step < cfg.steps and not self._out_of_time():
                with self.autocast():
                    metrics = self.train_step(self.next_batch())
                for scheduler in self.schedulers.values():
                    scheduler.step()
                if self.ema is not None:
                    self.ema.update()
                self.step += 1
                self._means.add(metrics)
                if self.step % cfg.log_every == 0:
                    self._log_training(progress, task)
                if self.stop.signum is not None:
                    self._interrupt()
                self._run_jobs(self.step)
                self._emit("on_step_end", self.step)
                progress.update(task, completed=self.step)
        self._log_training(progress, task)
        self._run_jobs(self.step, end=True)
        self._emit("on_fit_end")
        return TrainResult(
            steps=self.step,
            seconds=time.perf_counter() - start,
            metrics=self.last_metrics,
            evaluation=self.last_evaluation,
            out_dir=self.out_dir,
        )
