"""From options to a finished run: what ``ganzoo train`` does, callable from Python.

It loads the data a model expects, builds (or, on resume, restores) the model and
its trainer through the registry, trains, and leaves a Hub-format run folder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ganzoo.data import load_dataset
from ganzoo.errors import GanzooError, did_you_mean
from ganzoo.registry import (
    ModelEntry,
    TrainerEntry,
    build_config,
    get_model_entry,
    get_trainer_entry,
    list_stages,
    replace_config,
    trainer_entries,
    trainer_entry_of,
)
from ganzoo.train.base import Trainer
from ganzoo.train.config import TrainConfig, TrainResult
from ganzoo.train.run_folder import RESUMABLE_FIELDS, RunFolder, check_resume


def build_train_config(
    trainer: str | TrainerEntry | type[Trainer],
    recipe: str | None = None,
    *,
    stage: str | None = None,
    **overrides: Any,
) -> TrainConfig:
    """A training config: a named recipe (or the default one) with fields overridden.

    Asking for ``steps`` drops a recipe's ``epochs`` (the run then lasts those steps).

    Args:
        trainer: an architecture name (e.g. ``"wgan-gp"``), its registry entry, or a
            trainer class registered for one architecture; the recipes and the default
            recipe come from the registry, where they are declared.
        recipe: a recipe name (default: the architecture's default recipe).
        stage: the architecture's training stage (default: its first); only with a name.
        **overrides: config fields to change.

    Raises:
        GanzooError: for an unknown stage, recipe or field.

    """
    entry = _trainer_entry(trainer, stage)
    trainer_cls, recipes, default = entry.cls, entry.recipes, entry.default_recipe
    if recipe is None:
        base = recipes.get(default) or trainer_cls.config_class()
    elif recipe in recipes:
        base = recipes[recipe]
    else:
        names = sorted(recipes)
        raise GanzooError(
            f"{trainer_cls.__name__} has no recipe '{recipe}'{did_you_mean(recipe, names)}; "
            f"recipes: {', '.join(names) or 'none'}"
        )
    if "steps" in overrides and "epochs" not in overrides and getattr(base, "epochs", None):
        overrides = {**overrides, "epochs": None}
    return replace_config(base, **overrides)


def _trainer_entry(trainer: str | TrainerEntry | type[Trainer], stage: str | None) -> TrainerEntry:
    if isinstance(trainer, TrainerEntry):
        return trainer
    if isinstance(trainer, str):
        return get_trainer_entry(trainer, stage)
    return trainer_entry_of(trainer)


def _load_eval_data(dataset: str, root: str | Path | None) -> Any:
    try:
        return load_dataset(dataset, "test", root=root)
    except GanzooError:
        return None


def train(
    architecture: str | TrainerEntry,
    *,
    out_dir: str | Path,
    dataset: str | None = None,
    preset: str | None = None,
    recipe: str | None = None,
    stage: str | None = None,
    start_from: str | Path | None = None,
    init_from: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    data_root: str | Path | None = None,
    download: bool = False,
    model_overrides: dict[str, Any] | None = None,
    command: str | None = None,
    **train_overrides: Any,
) -> tuple[Trainer, TrainResult]:
    """Train an architecture from scratch (or resume a run) and write the run folder.

    Args:
        architecture: registry name, e.g. ``"sgan"``, or the trainer entry of the stage
            to run (:func:`ganzoo.registry.get_trainer_entry`; ``stage`` is then its own).
        out_dir: the run folder; it ends up loadable by :func:`ganzoo.from_pretrained`.
        dataset: data set name (default: the one the model config names, or on resume
            the one the run was trained on). A ``folder:<dir>`` of images is resized and
            converted to the model's ``image_size`` and ``channels``.
        preset: model preset (default: the architecture's default).
        recipe: trainer recipe, e.g. ``"report"`` or ``"best"``.
        stage: the training stage (default: the architecture's first, which builds a new
            model; see :func:`ganzoo.registry.list_stages`).
        start_from: for a stage that continues a trained model (e.g. a VQ-VAE's
            ``prior``), that model: a folder, a pretrained name or a Hub repo id. Its run
            folder is not written: ``out_dir`` is a new run.
        init_from: start a new run from this checkpoint's networks (a pretrained name, a
            Hub repo id, an exported folder or a run folder), with fresh optimisers, on
            ``dataset`` and ``recipe``: fine-tuning, or a next leg of a long training.
            The model config is the checkpoint's (``preset`` and ``model_overrides`` may
            only change what keeps its tensors' shapes); the lineage goes into the model
            card and ``train_summary.json``. See :meth:`Trainer.init_from`.
        resume: continue from ``<out_dir>/checkpoint`` (model, options and data as saved
            there; only ``steps``, ``lr`` and how often things are logged or saved may
            change, see :data:`~ganzoo.train.run_folder.RESUMABLE_FIELDS`). A preset,
            recipe or option that would change the run is refused.
        overwrite: write into an ``out_dir`` that is not empty and not a ganzoo run folder.
        data_root: where data sets live (default: ``GANZOO_DATA`` or ``~/.cache/ganzoo/data``).
        download: let torchvision download a missing data set.
        model_overrides: model config fields to change.
        command: the command line, for the model card and ``train_summary.json``.
        **train_overrides: trainer config fields (``steps``, ``lr``, ``labels``...).

    Returns:
        The trainer and its :class:`~ganzoo.train.config.TrainResult`.

    Raises:
        GanzooError: one line, for bad options, a folder that is not ours or is in use,
            or a resume that does not match the saved run.

    """
    stage_entry = _trainer_entry(architecture, stage)
    architecture = stage_entry.architecture
    entry = get_model_entry(architecture)
    trainer_cls = stage_entry.cls
    out_dir = Path(out_dir)
    _check_start(stage_entry, start_from, resume, out_dir, preset, model_overrides)
    _check_init_from(stage_entry, init_from, start_from, resume)
    run = RunFolder(out_dir)
    run.check_ours(overwrite)
    found = run.find_checkpoint()
    if resume and found is None:
        raise GanzooError(f"no checkpoint to resume from in {run.checkpoint_dir}; drop --resume")
    if not resume and found is not None:
        raise GanzooError(
            f"{out_dir} already holds a run; pass --resume to continue it or choose another --out"
        )
    model = None
    source = None
    if found is not None:
        _check_run_stage(found, stage_entry)
        config, train_config = _resumed_configs(
            found, entry, stage_entry, preset, recipe, model_overrides, train_overrides
        )
        train_config = dataclasses.replace(train_config, out_dir=str(out_dir))
    else:
        train_config = build_train_config(
            stage_entry, recipe, **{**train_overrides, "out_dir": str(out_dir)}
        )
        if stage_entry.continues:
            model = _start_model(start_from, architecture, stage_entry)
            config = model.config
        elif init_from is not None:
            needed = trainer_cls.model_overrides(train_config)
            config, source = _init_from_config(
                init_from, entry, preset, {**needed, **(model_overrides or {})}
            )
        else:
            needed = trainer_cls.model_overrides(train_config)
            config = build_config(entry, preset, **{**needed, **(model_overrides or {})})
    dataset = dataset or getattr(config, "dataset", None)
    if not dataset:
        raise GanzooError(f"'{architecture}' needs --dataset (its config names none)")
    data = _load_train_data(dataset, config, data_root, download)
    _check_data_contract(config, data, dataset)
    if hasattr(config, "dataset") and config.dataset != dataset:
        config = dataclasses.replace(config, dataset=dataset)
    torch.manual_seed(train_config.seed)  # the initial weights follow --seed too
    if model is None:
        model = entry.cls(config)
    else:
        model.config = config
    trainer = trainer_cls(model, data, train_config, eval_data=_load_eval_data(dataset, data_root))
    trainer.command = command
    if source is not None:
        from ganzoo.train.init_from import start_trainer

        start_trainer(trainer, str(init_from), loaded=source)
    result = trainer.fit(resume=found is not None, overwrite=overwrite)
    return trainer, result


def _stage_option(entry: TrainerEntry) -> str:
    return f"--stage {entry.stage}"


def _check_start(
    entry: TrainerEntry,
    start_from: str | Path | None,
    resume: bool,
    out_dir: Path,
    preset: str | None,
    model_overrides: dict[str, Any] | None,
) -> None:
    """Refuse a ``--from`` a stage cannot use, or a missing one it needs, in one line."""
    name = entry.architecture
    if not entry.continues:
        if start_from is not None:
            later = [e.stage for e in trainer_entries(name) if e.continues]
            where = f" (it applies to --stage {', '.join(later)})" if later else ""
            raise GanzooError(
                f"stage '{entry.stage}' of '{name}' trains a new model; drop --from{where}"
            )
        return
    if resume:
        if start_from is not None:
            raise GanzooError(
                f"drop --from when resuming: the checkpoint in {out_dir} holds the model"
            )
        return
    if start_from is None or not str(start_from).strip():
        raise GanzooError(
            f"{_stage_option(entry)} continues a trained '{name}' model: pass --from <run folder "
            f"or pretrained name> (made by `ganzoo train {name}`, stage '{entry.from_stage}')"
        )
    if preset is not None or model_overrides:
        raise GanzooError(
            f"{_stage_option(entry)} continues the model of --from; drop --preset/--model-set"
        )
    source = Path(start_from)
    if source.exists() and source.resolve() == out_dir.resolve():
        raise GanzooError(
            f"--out must be a new folder, not the --from run {source}: each stage keeps its "
            f"own run folder (checkpoint, log, model), e.g. --out {source}-{entry.stage}"
        )


def _check_init_from(
    entry: TrainerEntry, init_from: str | Path | None, start_from: Any, resume: bool
) -> None:
    """Refuse ``--init-from`` where it cannot apply, in one line."""
    if init_from is None:
        return
    if resume:
        raise GanzooError(
            "drop --init-from when resuming: the run's checkpoint holds its networks "
            "(and its lineage)"
        )
    if entry.continues or start_from is not None:
        raise GanzooError(
            f"--init-from starts a first-stage run; stage '{entry.stage}' continues the "
            "model of --from instead: drop --init-from"
        )


def _init_from_config(
    init_from: str | Path, entry: ModelEntry, preset: str | None, overrides: dict[str, Any]
) -> tuple[Any, tuple[Any, Path]]:
    """The model config of a run started from ``init_from``, and the loaded checkpoint.

    The checkpoint's own config, unless ``preset`` or ``overrides`` ask for another one
    (refused later if its tensors do not fit).
    """
    from ganzoo.train.init_from import check_architecture, check_fits, load_source

    loaded = load_source(init_from)
    source_model = loaded[0]
    check_architecture(source_model, entry.name, str(init_from))
    if preset is None:
        config = replace_config(source_model.config, **overrides)
    else:
        config = build_config(entry, preset, **overrides)
        if hasattr(config, "dataset"):
            config = dataclasses.replace(config, dataset=source_model.config.dataset)
    with torch.device("meta"):
        check_fits(source_model, entry.cls(config), str(init_from))
    return config, loaded


def _start_model(start_from: Any, architecture: str, entry: TrainerEntry) -> Any:
    """Load the trained model a continuing stage starts from, checking its architecture."""
    from ganzoo.hub import from_pretrained

    source = Path(str(start_from)).expanduser()
    looks_local = source.is_absolute() or str(start_from).startswith((".", "~"))
    if not source.exists() and (looks_local or (source.parent.is_dir() and source.parent.parts)):
        raise GanzooError(
            f"--from {start_from}: no such folder; give the run folder of stage "
            f"'{entry.from_stage}' or a pretrained name (`ganzoo list`)"
        )
    model = from_pretrained(str(source) if source.exists() else str(start_from))
    if getattr(model, "architecture", None) != architecture:
        raise GanzooError(
            f"--from {start_from} holds a '{model.architecture}' model, not '{architecture}'; "
            f"stage '{entry.stage}' continues a '{architecture}' model"
        )
    return model


def _check_run_stage(found: Path, entry: TrainerEntry) -> None:
    """Refuse to resume a run of another stage with this stage's trainer, naming the stage."""
    from ganzoo.train import checkpoint as ckpt

    path = found / ckpt.TRAIN_CONFIG_NAME
    if not path.is_file():
        return  # read_checkpoint says what is missing
    keys = set(ckpt.load_json(path))
    if keys <= set(entry.cls.config_class.__dataclass_fields__):
        return
    for other in trainer_entries(entry.architecture):
        if other is not entry and keys <= set(other.cls.config_class.__dataclass_fields__):
            raise GanzooError(
                f"{found.parent} is a run of stage '{other.stage}' of '{entry.architecture}'; "
                f"resume it with --stage {other.stage} (stages: "
                f"{', '.join(list_stages(entry.architecture))})"
            )


def _resumed_configs(
    found: Path,
    entry: ModelEntry,
    stage_entry: TrainerEntry,
    preset: str | None,
    recipe: str | None,
    model_overrides: dict[str, Any] | None,
    train_overrides: dict[str, Any],
) -> tuple[Any, TrainConfig]:
    """The model and training configs a resume asks for: the saved ones, changed as asked.

    A named ``preset`` or ``recipe`` is built as for a new run, so that a different one
    shows up as changed fields (the trainer refuses those when it loads the checkpoint).
    """
    from ganzoo.hub import read_hub_config

    trainer_cls, architecture = stage_entry.cls, entry.name
    saved = read_hub_config(found)
    if saved["architecture"] != architecture:
        raise GanzooError(
            f"{found.parent} holds a '{saved['architecture']}' run, not '{architecture}'"
        )
    saved_model = entry.cls(saved["config"]).config
    saved_run = RunFolder(found.parent).read_checkpoint(trainer_cls.config_class)
    saved_train = saved_run.config
    if preset is not None:
        needed = trainer_cls.model_overrides(saved_train)
        config = build_config(entry, preset, **{**needed, **(model_overrides or {})})
        if hasattr(config, "dataset"):  # the data set is compared through the data itself
            config = dataclasses.replace(config, dataset=saved_model.dataset)
    else:
        config = replace_config(saved_model, **(model_overrides or {}))
    if recipe is not None:
        train_config = build_train_config(stage_entry, recipe, **train_overrides)
        # what may change on resume keeps its saved value unless asked for; a recipe's
        # epochs became the saved steps when the run started
        kept = {
            k: getattr(saved_train, k)
            for k in (*RESUMABLE_FIELDS, "epochs")
            if k not in train_overrides and hasattr(saved_train, k)
        }
        train_config = dataclasses.replace(train_config, **kept)
    else:
        train_config = replace_config(saved_train, **train_overrides)
    # Refuse a changed run now, before the data are loaded and the options validated
    # (the trainer checks again, with the data, when it loads the checkpoint).
    check_resume(
        found.parent,
        step=int(saved_run.state["step"]),
        saved_config=dataclasses.asdict(saved_train),
        config=dataclasses.asdict(dataclasses.replace(train_config, out_dir=saved_train.out_dir)),
        saved_model=dataclasses.asdict(saved_model),
        model=dataclasses.asdict(config),
        saved_data=None,
        data={},
    )
    return config, train_config


def _load_train_data(dataset: str, config: Any, root: str | Path | None, download: bool) -> Any:
    if dataset.startswith("folder:"):
        # users' own images: resized and converted to what the model expects
        return load_dataset(
            dataset,
            "train",
            root=root,
            download=download,
            image_size=getattr(config, "image_size", None),
            channels=getattr(config, "channels", None),
        )
    return load_dataset(dataset, "train", root=root, download=download)


def _check_data_contract(config: Any, data: Any, dataset: str) -> None:
    expected = {
        "channels": getattr(config, "channels", None),
        "image_size": getattr(config, "image_size", None),
    }
    actual = {"channels": data.channels, "image_size": data.image_size}
    for key, want in expected.items():
        if want is not None and actual[key] != want:
            raise GanzooError(
                f"data set '{dataset}' has {key}={actual[key]} but the model expects {want}; "
                f"pick a matching --dataset or set the model's {key}"
            )
