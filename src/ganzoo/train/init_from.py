"""Start a new run from a trained checkpoint's networks (``ganzoo train ... --init-from``).

Fine-tuning on a user's own pictures and continuing a long training in legs are the
same operation: a new run whose networks (G and D, or the encoder, codebook and
decoder...) start from a checkpoint's, with fresh optimisers, on the data and recipe
given. The checkpoint is anything :func:`ganzoo.from_pretrained` loads: a bundled
name, a Hub repo id, an exported folder or a run folder.

A model kept with an EMA of its generator exports the average as its generator (what
``from_pretrained`` samples from) and the network's own, non-averaged weights in
``online_weights.safetensors`` beside it. A run started from such a checkpoint trains
the online weights and continues the average from the exported one; from a checkpoint
without that file (or an EMA-less run) both start from the exported weights.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.errors import GanzooError
from ganzoo.hub import ONLINE_WEIGHTS_NAME

#: What is started from: a :class:`ganzoo.train.base.Trainer`.
TrainerLike = Any


def module_prefix(model: nn.Module, module: nn.Module) -> str:
    """The state-dict prefix of ``module`` inside ``model`` (e.g. ``"generator."``)."""
    for name, candidate in model.named_modules():
        if candidate is module:
            return f"{name}." if name else ""
    raise GanzooError(f"{type(module).__name__} is not part of {type(model).__name__}")


def online_state(trainer: TrainerLike) -> dict[str, torch.Tensor] | None:
    """The followed network's own weights, keyed as in the model (``None`` without an EMA)."""
    target = trainer.ema_module() if trainer.ema is not None else None
    if target is None:
        return None
    prefix = module_prefix(trainer.model, target)
    return {prefix + k: v for k, v in target.state_dict().items()}


def write_online_weights(
    state: dict[str, torch.Tensor] | None, folder: str | Path, dtype: torch.dtype | None = None
) -> Path | None:
    """Write ``online_weights.safetensors`` into ``folder`` (atomically), or remove a stale one."""
    from ganzoo.hub import save_weights

    path = Path(folder) / ONLINE_WEIGHTS_NAME
    if state is None:
        path.unlink(missing_ok=True)
        return None
    save_weights(state, path, dtype=dtype)
    return path


def read_online_weights(
    folder: Path, model: nn.Module, prefix: str, source: str
) -> dict[str, torch.Tensor] | None:
    """The checked online weights of ``folder`` for the ``prefix`` part of ``model``, if any.

    Raises:
        GanzooError: if the file's tensors are not exactly that part's names and shapes,
            or are not finite.

    """
    from safetensors.torch import load_file

    from ganzoo.hub import check_finite, check_weights_fit, read_weights_header

    path = folder / ONLINE_WEIGHTS_NAME
    if not path.is_file():
        return None
    expected = {k: v for k, v in model.state_dict().items() if k.startswith(prefix)}
    check_weights_fit(expected, read_weights_header(path), f"{source} ({ONLINE_WEIGHTS_NAME})")
    tensors = load_file(str(path))
    check_finite(tensors, f"{source} ({ONLINE_WEIGHTS_NAME})")
    return tensors


def _differences(a: Any, b: Any) -> str:
    left, right = dataclasses.asdict(a), dataclasses.asdict(b)
    changed = [k for k in left if k != "dataset" and left.get(k) != right.get(k)]
    return ", ".join(f"{k}={left[k]!r} vs {right.get(k)!r}" for k in changed) or "none"


def load_source(source: str | Path) -> tuple[nn.Module, Path]:
    """Load the checkpoint ``source`` names and return it with its local folder.

    A model trained in stages starts its first stage again: a VQ-VAE's prior is dropped
    (retraining the autoencoder changes the codes it models; fit a new one after).
    """
    from ganzoo.hub import load_folder, resolve

    text = str(source).strip()
    if not text:
        raise GanzooError("--init-from needs a checkpoint: a pretrained name, Hub id or folder")
    folder = resolve(text, extra_files=(ONLINE_WEIGHTS_NAME,))
    model = load_folder(folder, source=text)
    if getattr(model, "prior", None) is not None and hasattr(model, "remove_prior"):
        model.remove_prior()
    return model, folder


def check_architecture(source_model: nn.Module, architecture: str, source: str) -> None:
    """Refuse, in one line naming both, a checkpoint of another architecture."""
    theirs = getattr(source_model, "architecture", "?")
    if theirs != architecture:
        raise GanzooError(
            f"--init-from {source} holds a '{theirs}' model; this run trains "
            f"'{architecture}': start from a '{architecture}' checkpoint (`ganzoo list`)"
        )


def check_fits(source_model: nn.Module, model: nn.Module, source: str) -> None:
    """Refuse, in one line naming both, a checkpoint whose networks ``model`` cannot take.

    Raises:
        GanzooError: for another architecture, or tensors of other names or shapes
            (another preset or a changed width), with the config fields that differ.

    """
    ours = getattr(model, "architecture", "?")
    check_architecture(source_model, ours, source)
    theirs = ours
    mine = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    given = {k: tuple(v.shape) for k, v in source_model.state_dict().items()}
    if mine != given:
        raise GanzooError(
            f"--init-from {source} ('{theirs}', its own config) does not fit this run's "
            f"'{ours}' networks (differing: {_differences(source_model.config, model.config)}); "
            "drop --preset/--model-set to train the checkpoint's own networks"
        )


def start_trainer(trainer: TrainerLike, source: str | Path, loaded: Any = None) -> None:
    """Put a checkpoint's networks, EMA and lineage into a trainer that has not trained yet.

    Args:
        trainer: a new trainer (step 0).
        source: the checkpoint (a pretrained name, Hub repo id or folder).
        loaded: ``(model, folder)`` as :func:`load_source` returned them for ``source``,
            to skip loading it again.

    Raises:
        GanzooError: if the trainer has already trained, or the checkpoint does not fit.

    """
    if trainer.step != 0:
        raise GanzooError(
            f"init_from needs a trainer that has not trained yet (it is at step {trainer.step})"
        )
    source_model, folder = loaded if loaded is not None else load_source(source)
    text = str(source)
    model = trainer.model
    check_fits(source_model, model, text)
    target = trainer.ema_module() if trainer.ema is not None else None
    with torch.no_grad():
        model.load_state_dict(source_model.state_dict(), strict=True)
        if target is not None:  # the exported generator is the average
            trainer.ema.module.load_state_dict(target.state_dict(), strict=True)
            prefix = module_prefix(model, target)
            online = read_online_weights(folder, model, prefix, text)
            if online is not None:  # checked: exactly the followed network's tensors
                target.load_state_dict({k[len(prefix) :]: v for k, v in online.items()})
    lineage = list(getattr(source_model, "lineage", []) or [])
    if trainer.ema is not None:
        from ganzoo.lineage import total_steps

        # the average goes on without a new warm-up
        trainer.ema.num_updates = max(total_steps(lineage), 1000)
    model.lineage = lineage
    trainer.init_source = text
