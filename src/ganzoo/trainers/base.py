"""The one training loop every architecture shares (mimicry's pattern).

:class:`Trainer` owns the loop and nothing model-specific: device, seeds, RNG
generators, bf16 autocast, optimiser steps, step counting, the EMA, progress on
stderr, data parallelism under ``torchrun``, stopping on SIGINT/SIGTERM, and the
periodic jobs (:mod:`ganzoo.trainers.callbacks`: evaluation, sample grids,
checkpoints, plots), all triggered the same way. What lives on disk and the
rules for it (lock, marker, checkpoint, metrics log, resume checks) are
:mod:`ganzoo.trainers.run_folder`'s; what a finished run leaves for users (Hub
folder, model card, ``train_summary.json``) is :mod:`ganzoo.trainers.export`'s.

A subclass declares its optimisers in :meth:`Trainer.configure_optimizers` and
does one update in :meth:`Trainer.train_step`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ganzoo.data import DeviceBatcher, ImageDataset
from ganzoo.devices import select_device
from ganzoo.errors import GanzooError
from ganzoo.trainers import distributed, export
from ganzoo.trainers.callbacks import (
    Callback,
    Checkpoints,
    Evaluation,
    KeepBest,
    NaNGuard,
    SampleGrid,
    TrainingPlots,
)
from ganzoo.trainers.ema import EMA
from ganzoo.trainers.run_folder import RunFolder, check_resume, dataset_fingerprint


@dataclass
class TrainConfig:
    """Options of the training loop that every trainer shares.

    Attributes:
        steps: optimisation steps in all (one step updates every network once).
        batch_size: images per step.
        lr: learning rate of every optimiser unless a trainer says otherwise.
        beta1: Adam's first momentum coefficient.
        beta2: Adam's second momentum coefficient.
        seed: seeds weights, data order and noise.
        device: ``"cuda"``, ``"mps"``, ``"cpu"`` or ``None`` for the best available.
        precision: ``"fp32"`` or ``"bf16"`` (autocast).
        channels_last: keep convolution weights in channels-last layout (faster convolutions
            on CPU and CUDA; the numbers are the same).
        ema_decay: keep an exponential moving average of the generator (e.g. 0.999).
        lr_decay_start: fraction of ``steps`` after which every learning rate decays
            linearly to zero at the last step (1.0: constant learning rates).
        max_seconds: stop early, evaluate and export once training has run this many
            seconds (``None``: no limit); the result reports the steps actually done.
        log_every: steps between metric log lines (and NaN checks).
        sample_every: steps between sample grids (0: never).
        eval_every: steps between evaluations (0: only at the end).
        checkpoint_every: steps between checkpoints (0: only at the end).
        keep_best: an evaluation metric; the best model so far is exported to ``<out>/best``.
        out_dir: the run's folder (``None``: keep nothing on disk).
        quiet: no progress bar.

    """

    steps: int = 600
    batch_size: int = 100
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    device: str | None = None
    precision: str = "fp32"
    channels_last: bool = True
    ema_decay: float | None = None
    lr_decay_start: float = 1.0
    max_seconds: float | None = None
    log_every: int = 50
    sample_every: int = 200
    eval_every: int = 0
    checkpoint_every: int = 0
    keep_best: str | None = None
    out_dir: str | None = None
    quiet: bool = False

    def validate(self) -> None:
        """Check the values a user can get wrong (NaN and infinities included).

        Raises:
            GanzooError: naming the field and its allowed values.

        """
        check_at_least(self, "steps", 1)
        check_at_least(self, "batch_size", 1)
        check_positive(self, "lr")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:  # False for NaN
                raise GanzooError(f"{name} must be in [0, 1), got {value}")
        if self.precision not in ("fp32", "bf16"):
            raise GanzooError(f"precision must be 'fp32' or 'bf16', got '{self.precision}'")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise GanzooError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if not 0.0 <= self.lr_decay_start <= 1.0:
            raise GanzooError(f"lr_decay_start must be in [0, 1], got {self.lr_decay_start}")
        if self.max_seconds is not None:
            check_positive(self, "max_seconds")
        check_at_least(self, "log_every", 1)
        for name in ("sample_every", "eval_every", "checkpoint_every"):
            check_at_least(self, name, 0)


def check_at_least(config: Any, name: str, low: float) -> None:
    """Raise a one-line :class:`GanzooError` unless ``config.<name>`` is finite and ``>= low``."""
    value = getattr(config, name)
    if not (value >= low and math.isfinite(value)):  # written so that NaN fails too
        bound = f"at least {low}" if low else ">= 0"
        raise GanzooError(f"{name} must be {bound} (and finite), got {value}")


def check_positive(config: Any, name: str) -> None:
    """Raise a one-line :class:`GanzooError` unless ``config.<name>`` is finite and ``> 0``."""
    value = getattr(config, name)
    if not (value > 0 and math.isfinite(value)):  # `not (x > 0)` is True for NaN
        raise GanzooError(f"{name} must be a positive finite number, got {value}")


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        steps: the step reached.
        seconds: wall time of this call to ``fit``.
        metrics: the last logged training metrics.
        evaluation: the last evaluation results.
        out_dir: the run folder, if any.
        summary: what ``<out>/train_summary.json`` holds (``ganzoo train`` prints it).

    """

    steps: int
    seconds: float
    metrics: dict[str, float]
    evaluation: dict[str, float]
    out_dir: Path | None
    summary: dict[str, Any] = field(default_factory=dict)


class TrainingInterrupted(GanzooError):
    """SIGINT (Ctrl-C) or SIGTERM stopped training after a step; a checkpoint was saved.

    Attributes:
        signum: the signal received.
        exit_code: the conventional exit status, ``128 + signum`` (130 for SIGINT,
            143 for SIGTERM).

    """

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


class Trainer:
    """The shared loop. Subclasses implement :meth:`configure_optimizers` and :meth:`train_step`.

    Args:
        model: the model to train (moved to the training device).
        data: training images (kept resident on the device).
        config: loop options; a subclass may extend :class:`TrainConfig`.
        eval_data: held-out data for :meth:`evaluate` (e.g. the test split).
        callbacks: extra callbacks, after the built-in ones.

    Example:
        >>> trainer = SGANTrainer(model, data, SGANTrainConfig(steps=2000))  # doctest: +SKIP
        >>> trainer.fit()  # doctest: +SKIP

    """

    config_class: ClassVar[type[TrainConfig]] = TrainConfig
    #: Named configurations (e.g. ``"report"``, ``"best"``) that ``ganzoo train --recipe`` picks.
    recipes: ClassVar[dict[str, TrainConfig]] = {}

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
        self._fit_start = time.perf_counter()
        self.last_evaluation: dict[str, float] = {}
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0
        self._stop_signal: int | None = None

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
        start = self.config.lr_decay_start
        if start >= 1.0:
            return {}
        total = self.config.steps
        first = int(start * total)

        def factor(step: int) -> float:
            return 1.0 if step < first else max(0.0, (total - step) / max(1, total - first))

        return {
            name: torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
            for name, optimizer in self.optimizers.items()
        }

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
        generator.manual_seed(self.config.seed * 1000 + len(self.generators) * 7919 + self.rank)
        self.generators[name] = generator
        return generator

    def make_batcher(self, dataset: ImageDataset, batch_size: int, name: str) -> DeviceBatcher:
        """A device-resident random batcher whose generator is checkpointed under ``name``."""
        return DeviceBatcher(dataset, batch_size, self.device, generator=self.make_generator(name))

    def adam(self, params: Any, lr: float | None = None, betas: tuple[float, float] | None = None):
        """Adam with the config's learning rate and betas (fused on CUDA)."""
        kwargs: dict[str, Any] = {}
        if self.device.type == "cuda":
            kwargs["fused"] = True
        return torch.optim.Adam(
            params,
            lr=lr if lr is not None else self.config.lr,
            betas=betas or (self.config.beta1, self.config.beta2),
            **kwargs,
        )

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
    def _accumulate(self, metrics: dict[str, torch.Tensor]) -> None:
        for name, value in metrics.items():
            value = value.detach().float()
            self._sums[name] = self._sums[name] + value if name in self._sums else value.clone()
        self._count += 1

    def _flush_metrics(self) -> dict[str, float]:
        if not self._sums:
            return {}
        names = list(self._sums)
        values = (torch.stack([self._sums[n] for n in names]) / self._count).tolist()
        self._sums, self._count = {}, 0
        return dict(zip(names, values, strict=True))

    def _log_training(self, progress: Any = None, task: Any = None) -> None:
        logged = self._flush_metrics()
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

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, except the model and EMA weights."""
        state: dict[str, Any] = {
            "step": self.step,
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "generators": {k: g.get_state() for k, g in self.generators.items()},
            "torch_rng": torch.get_rng_state(),
            "ema_updates": self.ema.num_updates if self.ema is not None else 0,
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def save_checkpoint(self) -> Path | None:
        """Write ``<out>/checkpoint`` atomically (main process only)."""
        if self.run is None or not self.is_main:
            return None
        self.run.path.mkdir(parents=True, exist_ok=True)
        return self.run.save_checkpoint(
            self.model,
            ema_state=self.ema.state_dict() if self.ema is not None else None,
            train_config=dataclasses.asdict(self.config),
            data=self.data_fingerprint(),
            state=self.state_dict(),
        )

    def load_checkpoint(self, folder: str | Path | None = None) -> int:
        """Restore model, EMA, optimisers, schedulers, step and RNG states; return the step.

        ``folder`` is a run folder (default: ``out_dir``); its ``checkpoint/`` is read.

        The checkpoint must have been saved with this training config, model config
        and data, except for the fields a resume may change
        (:data:`ganzoo.trainers.run_folder.RESUMABLE_FIELDS`). A changed ``lr`` is
        re-applied to every optimiser (and its schedule).

        Raises:
            GanzooError: if there is no checkpoint, or it does not fit this model,
                config or data (one line naming every differing field).

        """
        from safetensors.torch import load_file

        from ganzoo.hub import WEIGHTS_NAME, load_weights_strict
        from ganzoo.trainers import checkpoint as ckpt

        run = RunFolder(folder) if folder is not None else self.run
        if run is None:
            raise GanzooError("no checkpoint to resume from: the config has no out_dir")
        saved = run.read_checkpoint(type(self.config))
        state = saved.state
        step = int(state["step"])
        hub_config = getattr(self.model, "hub_config", None)
        check_resume(
            run.path,
            step=step,
            saved_config=dataclasses.asdict(saved.config),
            config=dataclasses.asdict(self.config),
            saved_model=saved.model,
            model=hub_config().get("config") if callable(hub_config) else None,
            saved_data=saved.data,
            data=self.data_fingerprint(),
        )
        found = saved.folder
        load_weights_strict(self.model, found / WEIGHTS_NAME, str(found))
        if self.ema is not None and (found / ckpt.EMA_NAME).is_file():
            self.ema.load_state_dict(load_file(str(found / ckpt.EMA_NAME), device=str(self.device)))
        missing = sorted(set(self.optimizers) - set(state["optimizers"]))
        if missing:
            raise GanzooError(
                f"checkpoint {found} has no state for optimiser(s) {', '.join(missing)}; "
                "it was saved by another trainer setup: start a new run"
            )
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        for name, scheduler in self.schedulers.items():
            if name in state["schedulers"]:
                scheduler.load_state_dict(state["schedulers"][name])
        for name, generator in self.generators.items():
            if name in state["generators"]:
                generator.set_state(state["generators"][name])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        if self.ema is not None:
            self.ema.num_updates = int(state.get("ema_updates", step))
        if saved.config.lr != self.config.lr:
            self._rescale_lr(self.config.lr / saved.config.lr)
        self.step = step
        return self.step

    def _rescale_lr(self, ratio: float) -> None:
        """Scale every optimiser's learning rate (and its schedule's base) by ``ratio``."""
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] *= ratio
                if "initial_lr" in group:
                    group["initial_lr"] *= ratio
        for scheduler in self.schedulers.values():
            scheduler.base_lrs = [lr * ratio for lr in scheduler.base_lrs]

    # ----------------------------------------------------------------- export
    def training_facts(self) -> dict[str, Any]:
        """What the model card's Training section says about this run."""
        return {
            "steps": self.step,
            "seed": self.config.seed,
            "device": str(self.device),
            "wall time of the last fit (s)": round(time.perf_counter() - self._fit_start, 1),
        }

    def export(self, folder: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write the model (EMA weights where kept) as a Hub folder with a model card.

        Each file is written atomically; the newest sample grid goes in as ``samples.png``.
        """
        grid = self.run.newest_sample_grid(self.step) if self.run is not None else None
        with self.ema_weights():
            return export.export_model(
                self.model,
                folder,
                metrics=metrics,
                command=self.command,
                training=self.training_facts(),
                sample_grid=grid,
            )

    def summary(self, result: TrainResult) -> dict[str, Any]:
        """The run's summary, as ``train_summary.json`` holds it."""
        return {
            "command": self.command,
            "out": str(result.out_dir) if result.out_dir is not None else None,
            "pictures": export.run_pictures(result.out_dir) if result.out_dir else [],
            "steps": result.steps,
            "seconds": round(result.seconds, 2),
            "device": export.device_name(self.device),
            "torch": torch.__version__,
            **{f"train/{k}": v for k, v in result.metrics.items()},
            **result.evaluation,
        }

    # ----------------------------------------------------------------- the loop
    def _progress(self):  # noqa: ANN202 - rich types are imported lazily
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=Console(stderr=True),
            disable=self.config.quiet or not self.is_main,
            transient=False,
        )

    def _out_of_time(self, start: float) -> bool:
        limit = self.config.max_seconds
        return limit is not None and time.perf_counter() - start >= limit

    @contextlib.contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """While training, SIGINT and SIGTERM ask the loop to stop after the current step.

        A second signal interrupts at once (the checkpoint on disk stays consistent:
        it is swapped in atomically). The previous handlers come back afterwards.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._stop_signal is not None:
                raise KeyboardInterrupt
            self._stop_signal = signum

        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        self._stop_signal = None
        for s in previous:
            signal.signal(s, handler)
        try:
            yield
        finally:
            for s, old in previous.items():
                signal.signal(s, old)

    @contextlib.contextmanager
    def _open_run(self, resume: bool, overwrite: bool) -> Iterator[None]:
        """Own the run folder for the duration of ``fit``: checked, locked, marked."""
        if self.run is None or not self.is_main:
            yield
            return
        self.run.open(overwrite=overwrite)
        try:
            if not resume and self.step == 0 and self.run.find_checkpoint() is not None:
                raise GanzooError(
                    f"{self.config.out_dir} already holds a run; fit(resume=True) continues it, "
                    "or choose another out_dir"
                )
            yield
        finally:
            self.run.unlock()

    def _interrupt(self) -> None:
        signum = self._stop_signal
        assert signum is not None
        self._log_training()
        where = self.save_checkpoint()
        name = signal.Signals(signum).name
        saved = f"checkpoint saved in {where}; resume to continue" if where else "nothing saved"
        raise TrainingInterrupted(f"stopped by {name} at step {self.step}; {saved}", signum)

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
            with self._stop_on_signals():
                result = self._loop()
            if self.run is not None and self.is_main:
                self.export(self.run.path, metrics=self.last_evaluation)
                result.summary = self.summary(result)
                export.write_summary(self.run.path, result.summary)
            else:
                result.summary = self.summary(result)
        return result

    def _loop(self) -> TrainResult:
        start = self._fit_start = time.perf_counter()
        cfg = self.config
        self.model.train()
        self._emit("on_fit_start")
        with self._progress() as progress:
            task = progress.add_task(
                type(self).__name__, total=cfg.steps, completed=self.step, info=""
            )
            while self.step < cfg.steps and not self._out_of_time(start):
                with self.autocast():
                    metrics = self.train_step(self.next_batch())
                for scheduler in self.schedulers.values():
                    scheduler.step()
                if self.ema is not None:
                    self.ema.update()
                self.step += 1
                self._accumulate(metrics)
                if self.step % cfg.log_every == 0:
                    self._log_training(progress, task)
                if self._stop_signal is not None:
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
