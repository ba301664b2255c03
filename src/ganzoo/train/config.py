"""The options every trainer shares, what a run returns, and the checks configs use.

:class:`TrainConfig` is the loop's configuration (each architecture's trainer extends
it); :class:`TrainResult` is what :meth:`ganzoo.train.base.Trainer.fit` returns;
its ``validate`` uses the range vocabulary of :mod:`ganzoo.config`;
:func:`fast_dev_run_steps` reads the quick-run setting ``GANZOO_FAST_DEV_RUN``. Nothing
here imports torch.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.config import check_at_least, check_choice, check_positive, check_range
from ganzoo.errors import GanzooError

#: The environment variable that caps every training run (see :func:`fast_dev_run_steps`).
FAST_DEV_RUN = "GANZOO_FAST_DEV_RUN"
_fast_dev_run_noticed = False


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

        With ``GANZOO_FAST_DEV_RUN=N`` set (see :func:`fast_dev_run_steps`), ``steps`` is
        then lowered to at most ``N``: a quick run of every line of a training script.

        Raises:
            GanzooError: naming the field and its allowed values.

        """
        check_at_least(self, "steps", 1)
        cap = fast_dev_run_steps()
        if cap is not None:
            self.steps = min(self.steps, cap)
        check_at_least(self, "batch_size", 1)
        check_positive(self, "lr")
        for name in ("beta1", "beta2"):
            check_range(self, name, 0.0, 1.0, high_open=True)
        check_choice(self, "precision", ("fp32", "bf16"))
        check_range(self, "ema_decay", 0.0, 1.0, low_open=True, high_open=True, allow_none=True)
        check_range(self, "lr_decay_start", 0.0, 1.0)
        if self.max_seconds is not None:
            check_positive(self, "max_seconds")
        check_at_least(self, "log_every", 1)
        for name in ("sample_every", "eval_every", "checkpoint_every"):
            check_at_least(self, name, 0)


def fast_dev_run_steps() -> int | None:
    """The step cap that ``GANZOO_FAST_DEV_RUN`` asks for; ``None`` when it is off.

    ``GANZOO_FAST_DEV_RUN=N`` (a whole number, like Lightning's ``fast_dev_run``) caps every
    training run at ``N`` steps: :meth:`TrainConfig.validate` lowers ``steps`` to at most
    ``N``, and a config whose ``epochs`` set its steps is capped once those are known. Every
    line of a script or command still runs (data, evaluation at the end, checkpoints,
    export), in seconds; use it to check a training script or the docs, never for a model
    you keep. Unset, empty or ``0``: off. The first time a process reads it on, one line on
    stderr says so (under ``torchrun``: rank 0 only).

    Raises:
        GanzooError: for a value that is not a whole number >= 0.

    """
    global _fast_dev_run_noticed
    text = os.environ.get(FAST_DEV_RUN, "").strip()
    if not text.isdigit():
        if not text:
            return None
        raise GanzooError(f"{FAST_DEV_RUN} must be a whole number of steps (0: off), got '{text}'")
    cap = int(text)
    if cap == 0:
        return None
    if not _fast_dev_run_noticed and os.environ.get("RANK", "0").strip() in ("", "0"):
        _fast_dev_run_noticed = True
        print(
            f"{FAST_DEV_RUN}={cap}: every training run stops after at most {cap} step(s); "
            "unset it for real training",
            file=sys.stderr,
        )
    return cap


@dataclass
class TrainResult:
    """What :meth:`ganzoo.train.base.Trainer.fit` returns.

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
