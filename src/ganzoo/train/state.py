"""The resumable state of a training run: what a checkpoint holds, and putting it back.

:class:`TrainingState` is everything a trainer needs to continue besides its weights:
the step, the optimisers and schedulers, its named random generators, torch's global
RNG states and the EMA's update count. :meth:`TrainingState.save` writes it, with the
model and EMA weights, the training config and the data's fingerprint, into the run
folder's ``checkpoint/`` (atomically: :meth:`ganzoo.train.run_folder.RunFolder.save_checkpoint`);
:meth:`TrainingState.restore` checks that a checkpoint fits the trainer (same config,
model and data, except :data:`ganzoo.train.run_folder.RESUMABLE_FIELDS`) and puts it
all back, so a resumed run continues bit-identically.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.lineage import join_commands
from ganzoo.train import checkpoint as ckpt
from ganzoo.train.run_folder import RunFolder, check_resume

#: What the state captures and restores: a :class:`ganzoo.train.base.Trainer`.
TrainerLike = Any

_REQUIRED = {
    "step": int,
    "optimizers": dict,
    "schedulers": dict,
    "generators": dict,
    "torch_rng": torch.Tensor,
}


@dataclasses.dataclass
class TrainingState:
    """A trainer's resumable state, as ``checkpoint/trainer_state.pt`` holds it.

    Attributes:
        step: the steps done.
        optimizers: each optimiser's ``state_dict()``, by name.
        schedulers: each learning-rate scheduler's ``state_dict()``, by name.
        generators: each named random generator's state, by name.
        torch_rng: torch's global CPU RNG state.
        ema_updates: how many updates the EMA has had.
        cuda_rng: the CUDA RNG state of the training device (``None`` off CUDA).
        seconds: training seconds so far, over every fit of the run.
        init_from: the checkpoint the run started from (``None``: from scratch).
        commands: the command lines of every fit of the run so far, oldest first (the
            first run and each ``--resume``).

    """

    step: int
    optimizers: dict[str, Any]
    schedulers: dict[str, Any]
    generators: dict[str, torch.Tensor]
    torch_rng: torch.Tensor
    ema_updates: int
    cuda_rng: torch.Tensor | None = None
    seconds: float = 0.0
    init_from: str | None = None
    commands: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def capture(cls, trainer: TrainerLike) -> TrainingState:
        """The state of ``trainer`` now."""
        return cls(
            step=trainer.step,
            optimizers={k: v.state_dict() for k, v in trainer.optimizers.items()},
            schedulers={k: v.state_dict() for k, v in trainer.schedulers.items()},
            generators={k: g.get_state() for k, g in trainer.generators.items()},
            torch_rng=torch.get_rng_state(),
            ema_updates=trainer.ema.num_updates if trainer.ema is not None else 0,
            cuda_rng=(
                torch.cuda.get_rng_state(trainer.device) if trainer.device.type == "cuda" else None
            ),
            seconds=float(trainer.train_seconds()),
            init_from=trainer.init_source,
            commands=run_commands(trainer),
        )

    def to_dict(self) -> dict[str, Any]:
        """The state as saved with ``torch.save`` (``cuda_rng`` only when there is one)."""
        state = dataclasses.asdict(self)
        for optional in ("cuda_rng", "init_from"):
            if state[optional] is None:
                del state[optional]
        return state

    @classmethod
    def from_dict(cls, state: Any, source: str) -> TrainingState:
        """Read a saved state, checking its shape (the file may come from anywhere).

        Checkpoints of older versions without ``ema_updates`` count one update per step.

        Raises:
            GanzooError: naming ``source`` and the missing or malformed entry.

        """
        if not isinstance(state, dict):
            raise GanzooError(f"training state {source} is not a ganzoo state; start a new run")
        for key, kind in _REQUIRED.items():
            if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
                raise GanzooError(
                    f"training state {source} has no valid '{key}'; it was not written by "
                    "ganzoo or is damaged: start a new run"
                )
        step = state["step"]
        seconds = state.get("seconds", 0.0)
        init_from = state.get("init_from")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
            raise GanzooError(f"training state {source} has an invalid 'seconds'; start a new run")
        if init_from is not None and not isinstance(init_from, str):
            raise GanzooError(f"training state {source} has an invalid 'init_from'")
        commands = state.get("commands", [])
        if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
            raise GanzooError(f"training state {source} has an invalid 'commands'; start a new run")
        return cls(
            step=step,
            optimizers=state["optimizers"],
            schedulers=state["schedulers"],
            generators=state["generators"],
            torch_rng=state["torch_rng"],
            ema_updates=int(state.get("ema_updates", step)),
            cuda_rng=state.get("cuda_rng"),
            seconds=float(seconds),
            init_from=init_from,
            commands=list(commands),
        )

    def apply(self, trainer: TrainerLike, source: str) -> None:
        """Put optimisers, schedulers, generators, RNG states, EMA count and step into ``trainer``.

        Raises:
            GanzooError: if an optimiser of ``trainer`` has no saved state.

        """
        missing = sorted(set(trainer.optimizers) - set(self.optimizers))
        if missing:
            raise GanzooError(
                f"checkpoint {source} has no state for optimiser(s) {', '.join(missing)}; "
                "it was saved by another trainer setup: start a new run"
            )
        for name, optimizer in trainer.optimizers.items():
            optimizer.load_state_dict(self.optimizers[name])
            if name not in trainer.schedulers:  # a schedule dropped on resume: its base rate
                for group in optimizer.param_groups:
                    group["lr"] = group.pop("initial_lr", group["lr"])
        for name, scheduler in trainer.schedulers.items():
            if name in self.schedulers:
                scheduler.load_state_dict(self.schedulers[name])
            else:  # a schedule added on resume (lr_decay_start): it starts at this step
                start_schedule_at(scheduler, self.step)
        for name, generator in trainer.generators.items():
            if name in self.generators:
                generator.set_state(self.generators[name])
        torch.set_rng_state(self.torch_rng)
        if self.cuda_rng is not None and trainer.device.type == "cuda":
            torch.cuda.set_rng_state(self.cuda_rng, trainer.device)
        if trainer.ema is not None:
            trainer.ema.num_updates = self.ema_updates
        trainer.seconds_before = self.seconds
        trainer.init_source = self.init_from
        trainer.earlier_commands = list(self.commands)
        trainer.step = self.step

    # ------------------------------------------------------------------ on disk
    @classmethod
    def save(cls, trainer: TrainerLike) -> Path | None:
        """Write ``trainer``'s ``<out>/checkpoint`` atomically (main process only).

        Returns:
            The checkpoint folder, or ``None`` where nothing is written (no ``out_dir``,
            or not the main process).

        """
        run = trainer.run
        if run is None or not trainer.is_main:
            return None
        run.path.mkdir(parents=True, exist_ok=True)
        return run.save_checkpoint(
            trainer.model,
            ema_state=trainer.ema.state_dict() if trainer.ema is not None else None,
            train_config=dataclasses.asdict(trainer.config),
            data=trainer.data_fingerprint(),
            state=cls.capture(trainer).to_dict(),
        )

    @classmethod
    def restore(cls, trainer: TrainerLike, folder: str | Path | None = None) -> int:
        """Restore model, EMA, optimisers, schedulers, step and RNG states; return the step.

        ``folder`` is a run folder (default: the trainer's ``out_dir``); its
        ``checkpoint/`` is read. The checkpoint must have been saved with this training
        config, model config and data, except for the fields a resume may change
        (:data:`ganzoo.train.run_folder.RESUMABLE_FIELDS`). A changed ``lr`` is
        re-applied to every optimiser (and its schedule).

        Raises:
            GanzooError: if there is no checkpoint, or it does not fit this model,
                config or data (one line naming every differing field).

        """
        from safetensors.torch import load_file

        from ganzoo.hub import WEIGHTS_NAME, load_weights_strict

        run = RunFolder(folder) if folder is not None else trainer.run
        if run is None:
            raise GanzooError("no checkpoint to resume from: the config has no out_dir")
        saved = run.read_checkpoint(type(trainer.config))
        found = saved.folder
        state = cls.from_dict(saved.state, str(found / ckpt.STATE_NAME))
        hub_config = getattr(trainer.model, "hub_config", None)
        check_resume(
            run.path,
            step=state.step,
            saved_config=dataclasses.asdict(saved.config),
            config=dataclasses.asdict(trainer.config),
            saved_model=_saved_model_config(trainer.model, saved.model),
            # through JSON, as the saved one was read: tuples become lists on disk
            model=json.loads(json.dumps(hub_config().get("config")))
            if callable(hub_config)
            else None,
            saved_data=saved.data,
            data=trainer.data_fingerprint(),
        )
        load_weights_strict(trainer.model, found / WEIGHTS_NAME, str(found))
        if hasattr(trainer.model, "lineage"):
            trainer.model.lineage = saved.lineage
        if trainer.ema is not None and (found / ckpt.EMA_NAME).is_file():
            trainer.ema.load_state_dict(
                load_file(str(found / ckpt.EMA_NAME), device=str(trainer.device))
            )
        state.apply(trainer, str(found))
        if saved.config.lr != trainer.config.lr:
            rescale_lr(trainer, trainer.config.lr / saved.config.lr)
        return trainer.step


def _saved_model_config(model: Any, saved: Any) -> Any:
    """The checkpoint's model config as the model's config class reads it.

    A field added to the class since the run was saved takes its default, as loading
    the checkpoint gives it, so it does not count as changed (the training config is
    read the same way).
    """
    config_class = getattr(model, "config_class", None)
    if not isinstance(saved, dict) or config_class is None:
        return saved
    from ganzoo.models.base import coerce_config

    return json.loads(json.dumps(dataclasses.asdict(coerce_config(config_class, saved))))


def start_schedule_at(scheduler: torch.optim.lr_scheduler.LambdaLR, step: int) -> None:
    """Put a new schedule over a resumed constant-rate run at ``step``.

    Its base is the rate the run trained at (as saved; a changed ``lr`` is re-applied
    after, by :func:`rescale_lr`, to rate and base alike), and each group gets the
    schedule's rate for ``step``.
    """
    scheduler.last_epoch = step
    groups = scheduler.optimizer.param_groups
    scheduler.base_lrs = [group["lr"] for group in groups]
    for group, base, factor in zip(groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True):
        group["initial_lr"] = base
        group["lr"] = base * factor(step)
    scheduler._last_lr = [group["lr"] for group in groups]


def rescale_lr(trainer: TrainerLike, ratio: float) -> None:
    """Scale every optimiser's learning rate (and its schedule's base) by ``ratio``."""
    for optimizer in trainer.optimizers.values():
        for group in optimizer.param_groups:
            group["lr"] *= ratio
            if "initial_lr" in group:
                group["initial_lr"] *= ratio
    for scheduler in trainer.schedulers.values():
        scheduler.base_lrs = [lr * ratio for lr in scheduler.base_lrs]


def run_commands(trainer: TrainerLike) -> list[str]:
    """The command lines of every fit of ``trainer``'s run, oldest first (this one last)."""
    return [*trainer.earlier_commands, *([trainer.command] if trainer.command else [])]


def run_command(trainer: TrainerLike) -> str | None:
    """How the run was made, as one line: its first command and each resume, ``a && b``."""
    return join_commands(run_commands(trainer))
