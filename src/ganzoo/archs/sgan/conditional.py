"""The SGAN's conditional generator: the labels it takes, and which classes it is asked for.

Only an SGAN trained with a class term (``--recipe conditional``) has a generator that
draws a requested digit; everything about labels lives here: checking the labels a user
gives, drawing balanced ones, the order a measurement asks for, and the one-line
refusal that names where conditional generators come from.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ganzoo.errors import GanzooError

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel


def class_order_labels(model: ZooModel, n: int) -> torch.Tensor | None:
    """The classes a conditional generator is asked for when it is measured or shown.

    Every class in turn, in equal consecutive blocks: ``arange(n) * K // n`` for ``K``
    classes (of 100 images and ten classes, ten 0s, then ten 1s...: the rows of a 10×10
    grid). ``None`` for a model without a conditional generator.
    """
    if not getattr(model, "conditional", False):
        return None
    return torch.arange(n) * model.config.num_classes // n


def no_labels_error(model: Any) -> GanzooError:
    """The one-line error for labels asked of a model without a conditional generator.

    It names where conditional generators come from (:func:`conditional_generators`).
    """
    name = getattr(model, "architecture", "") or type(model).__name__
    return GanzooError(
        f"this '{name}' model has no conditional generator, so it takes no labels; "
        f"{conditional_generators()}"
    )


def check_labels(labels: Any, n: int, num_classes: int) -> torch.Tensor:
    """Class labels for ``n`` images as an int64 CPU tensor ``(n,)``, checked.

    Args:
        labels: one class index (an ``int``) for every image, or a sequence, array or
            tensor of ``n`` indices (or of one, used for all).
        n: how many images.
        num_classes: the classes the model knows (indices ``0..num_classes-1``).

    Raises:
        GanzooError: for a value that is not an integer, out of range, or the wrong count.

    """
    if isinstance(labels, bool | str | bytes):
        raise GanzooError(f"labels must be class indices (integers), got {labels!r}")
    try:
        values = torch.as_tensor(labels).detach().cpu()
    except (TypeError, ValueError, RuntimeError):
        raise GanzooError(
            "labels must be a class index or a sequence of class indices (integers)"
        ) from None
    if values.numel() == 0:
        raise GanzooError(f"got 0 labels for {n} images; give one label or {n}")
    if values.dtype == torch.bool or values.dtype.is_floating_point or values.is_complex():
        raise GanzooError(f"labels must be integers, got a tensor of {values.dtype}")
    if values.dim() > 1:
        raise GanzooError(f"labels must be one index per image, got shape {tuple(values.shape)}")
    values = values.reshape(-1).long()
    if len(values) == 1:
        values = values.expand(n)
    elif len(values) != n:
        raise GanzooError(f"got {len(values)} labels for {n} images; give one label or {n}")
    bad = values[(values < 0) | (values >= num_classes)]
    if len(bad):
        raise GanzooError(f"labels must be in 0..{num_classes - 1}, got {int(bad[0])}")
    return values.clone()


def balanced_labels(
    n: int, num_classes: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``n`` class labels, each class ``n // num_classes`` or one more times, shuffled.

    Which classes get the extra one is random too (a random cyclic shift), so a single
    image is of any class with equal chance. Returns an int64 CPU tensor ``(n,)``.
    """
    order = torch.randperm(n, generator=generator)
    shift = torch.randint(num_classes, (1,), generator=generator)
    return (order + shift) % num_classes


def conditional_generators() -> str:
    """Where generators that take labels come from, as one clause for error messages.

    Read from the registry (architectures whose config has ``conditional``, the
    recipes whose trainer sets it) and the bundled checkpoints' ``config.json``.
    """
    from ganzoo.catalog import load_catalog
    from ganzoo.registry import has_trainer, model_entries, trainer_entries

    ways: list[str] = []
    for entry in model_entries():
        fields = {f.name for f in dataclasses.fields(entry.config_cls)}
        if "conditional" not in fields or not entry.cls.can("sample"):
            continue
        recipes = []
        if has_trainer(entry.name):
            for stage in trainer_entries(entry.name):
                recipes += [
                    name
                    for name, recipe in stage.recipes.items()
                    if stage.cls.model_overrides(recipe).get("conditional")
                ]
        if recipes:
            dataset = getattr(entry.presets[entry.default_preset], "dataset", None)
            data = f" --dataset {dataset}" if dataset else ""
            ways.append(
                f"{entry.name} trained with --recipe {recipes[0]} (`ganzoo train {entry.name} "
                f"--recipe {recipes[0]}{data} --out runs/{entry.name}-{recipes[0]}`)"
            )
        else:
            ways.append(f"{entry.name} with --model-set conditional=true")
    pretrained = [
        name
        for name, info in sorted(load_catalog().items())
        if info.bundled and _bundled_is_conditional(info.folder)
    ]
    found = "; pretrained: " + ", ".join(pretrained) if pretrained else "; none pretrained yet"
    return "conditional generators: " + (", ".join(ways) or "none") + found


def _bundled_is_conditional(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return config.get("config", {}).get("conditional") is True
    except (OSError, ValueError, AttributeError):
        return False
