"""``ganzoo info``: an architecture's presets and recipes, or a checkpoint's config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ganzoo.cli.common import Revision, _load, friendly
from ganzoo.errors import GanzooError, did_you_mean


@friendly
def info(
    name: Annotated[
        str, typer.Argument(help="An architecture, a pretrained name, a Hub repo id or a folder.")
    ],
    revision: Revision = None,
) -> None:
    """Show an architecture's presets, or a checkpoint's config, data contract and metrics."""
    from ganzoo.catalog import load_catalog
    from ganzoo.registry import is_architecture, list_models

    if is_architecture(name):
        report = _architecture_report(name)
    else:
        if "/" not in name and name not in load_catalog() and not Path(name).exists():
            known = list_models() + list(load_catalog())
            raise GanzooError(
                f"no architecture, pretrained model or folder '{name}'{did_you_mean(name, known)} "
                "(`ganzoo list` shows all)"
            )
        model = _load(name, "cpu", revision)
        report = model.hub_config()
        report["parameters"] = sum(p.numel() for p in model.parameters())
        if name in load_catalog():
            report["pretrained"] = load_catalog()[name].__dict__
    typer.echo(json.dumps(report, indent=2, default=str))


def _architecture_report(name: str) -> dict[str, Any]:
    """An architecture's description, presets, parameter count, recipes and stages."""
    import dataclasses

    from ganzoo.models.base import keras_parameter_count
    from ganzoo.registry import get_model_entry, get_trainer_entry, has_trainer, trainer_entries

    entry = get_model_entry(name)
    report: dict[str, Any] = {"architecture": name, "description": entry.description}
    report["default_preset"] = entry.default_preset
    report["presets"] = {k: dataclasses.asdict(v) for k, v in entry.presets.items()}
    report["parameters"] = keras_parameter_count(entry.cls(entry.presets[entry.default_preset]))
    if has_trainer(name):
        trainer = get_trainer_entry(name)
        report["trainer"] = trainer.cls.__name__
        report["default_recipe"] = trainer.default_recipe
        report["recipes"] = {k: dataclasses.asdict(v) for k, v in trainer.recipes.items()}
        stages = trainer_entries(name)
        if len(stages) > 1:  # the default stage's trainer and recipes are above
            report["stages"] = {
                e.stage: {
                    "trainer": e.cls.__name__,
                    "continues": e.from_stage,
                    "default_recipe": e.default_recipe,
                    "recipes": sorted(e.recipes),
                }
                for e in stages
            }
    return report
