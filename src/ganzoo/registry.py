"""Name → architecture and name → trainer registries (timm's pattern).

Architectures register themselves with :func:`register_model` and training
algorithms with :func:`register_trainer`. Lookups import the built-in architectures
(:mod:`ganzoo.archs`) on first use, so ``import ganzoo`` stays light.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ganzoo.errors import GanzooError, did_you_mean

T = TypeVar("T")


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one architecture.

    Attributes:
        name: registry name, e.g. ``"sgan"``.
        cls: the model class (a :class:`ganzoo.models.base.ZooModel`).
        config_cls: the config dataclass the class is built from.
        presets: named configurations; ``default_preset`` is used when none is asked for.
        default_preset: name of the preset :func:`create_model` uses by default.
        description: first line of the class docstring.

    """

    name: str
    cls: type
    config_cls: type
    presets: Mapping[str, Any] = field(default_factory=dict)
    default_preset: str = "report"
    description: str = ""


_MODELS: dict[str, ModelEntry] = {}
_TRAINERS: dict[str, dict[str, TrainerEntry]] = {}


def _load_builtins(trainers: bool = False) -> None:
    """Import the built-in architectures (and, if asked, trainers) so they register.

    Loading a model for sampling needs only the architectures, so trainers (and what
    they import) stay out of that path.
    """
    from ganzoo.archs import load_builtins

    load_builtins(trainers)


def register_model(
    name: str,
    presets: Mapping[str, Any] | None = None,
    default_preset: str = "report",
) -> Callable[[type[T]], type[T]]:
    """Class decorator that registers an architecture under ``name``.

    Args:
        name: unique registry name.
        presets: named config instances (each an instance of the class's ``config_class``).
            When omitted, the default config is the only preset, named ``default_preset``.
        default_preset: the preset :func:`create_model` uses when none is given.

    Raises:
        GanzooError: if ``name`` is already registered.

    """

    def decorator(cls: type[T]) -> type[T]:
        if name in _MODELS:
            raise GanzooError(
                f"model name '{name}' is already registered by {_MODELS[name].cls.__qualname__}; "
                "choose another name"
            )
        config_cls = getattr(cls, "config_class", None)
        if config_cls is None or not dataclasses.is_dataclass(config_cls):
            raise TypeError(f"{cls.__qualname__} needs a dataclass `config_class` to be registered")
        all_presets = dict(presets or {default_preset: config_cls()})
        if default_preset not in all_presets:
            raise TypeError(f"default preset '{default_preset}' is not among {sorted(all_presets)}")
        doc = (cls.__doc__ or "").strip().splitlines()
        _MODELS[name] = ModelEntry(
            name=name,
            cls=cls,
            config_cls=config_cls,
            presets=all_presets,
            default_preset=default_preset,
            description=doc[0] if doc else "",
        )
        cls.architecture = name  # type: ignore[attr-defined]
        return cls

    return decorator


#: Stage name of a trainer registered without one: the stage that trains from scratch.
DEFAULT_STAGE = "train"


@dataclass(frozen=True)
class TrainerEntry:
    """How one stage of one architecture is trained.

    Most architectures have one stage. A VQ-VAE has two: the autoencoder is trained
    from scratch (``ganzoo train vqvae``), then a prior over its codes is trained on the
    frozen autoencoder (``ganzoo train vqvae --stage prior --from runs/vq``).

    Attributes:
        architecture: registry name of the architecture, e.g. ``"wgan-gp"``.
        cls: the trainer class (a :class:`ganzoo.train.base.Trainer`); one class may
            train several architectures (the GAN trainer trains ``dcgan``, ``wgan`` and
            ``wgan-gp``), each with its own recipes.
        recipes: named training configurations (``ganzoo train --recipe``).
        default_recipe: the recipe used when none is asked for.
        stage: the stage's name (``ganzoo train --stage``).
        from_stage: ``None`` for the stage that starts from a new model (each architecture
            has exactly one, its default stage); otherwise the stage whose trained model this
            one continues (``ganzoo train --from``).

    """

    architecture: str
    cls: type
    recipes: Mapping[str, Any] = field(default_factory=dict)
    default_recipe: str = "report"
    stage: str = DEFAULT_STAGE
    from_stage: str | None = None

    @property
    def continues(self) -> bool:
        """Whether the stage starts from a trained model (``--from``) instead of a new one."""
        return self.from_stage is not None


def register_trainer(
    name: str,
    recipes: Mapping[str, Any] | None = None,
    default_recipe: str = "report",
    *,
    stage: str = DEFAULT_STAGE,
    from_stage: str | None = None,
) -> Callable[[type[T]], type[T]]:
    """Class decorator that registers a trainer for one stage of the architecture ``name``.

    Stack it to let one trainer class train several architectures, each with its own
    recipes: ``ganzoo train wgan-gp`` then finds the class and the recipe through this
    table, with no test of names anywhere. An architecture trained in stages registers
    one trainer per stage: the one with ``from_stage=None`` is its default stage (it
    builds a new model); the others continue the model another stage trained.

    Args:
        name: the architecture the trainer trains.
        recipes: named configurations for that architecture: the one place a recipe is
            declared.
        default_recipe: the recipe :func:`get_trainer_entry` callers use by default.
        stage: the stage's name (``ganzoo train --stage``).
        from_stage: the stage whose trained model this stage continues (``None``: this is
            the stage that starts from a new model).

    Raises:
        GanzooError: if a trainer is already registered for ``name`` and ``stage``, or
            ``name`` already has a stage that starts from a new model.

    """

    def decorator(cls: type[T]) -> type[T]:
        stages = _TRAINERS.get(name, {})
        if stage in stages:
            where = "" if stage == DEFAULT_STAGE else f" (stage '{stage}')"
            raise GanzooError(
                f"trainer name '{name}'{where} is already registered by "
                f"{stages[stage].cls.__qualname__}; choose another name"
            )
        if from_stage is None and any(not e.continues for e in stages.values()):
            first = next(e for e in stages.values() if not e.continues)
            raise GanzooError(
                f"'{name}' already has a stage that starts from a new model ('{first.stage}'); "
                "register this one with from_stage=<the stage it continues>"
            )
        own = dict(recipes or {})
        if own and default_recipe not in own:
            raise TypeError(f"default recipe '{default_recipe}' is not among {sorted(own)}")
        entry = TrainerEntry(name, cls, own, default_recipe, stage, from_stage)
        _TRAINERS.setdefault(name, {})[stage] = entry
        return cls

    return decorator


def trainer_entry_of(cls: type) -> TrainerEntry:
    """The one registered entry whose trainer class is ``cls``.

    Raises:
        GanzooError: if ``cls`` is registered for no architecture, or for several (the
            GAN trainer trains ``dcgan``, ``wgan`` and ``wgan-gp``: name one).

    """
    _load_builtins(trainers=True)
    found = [e for stages in _TRAINERS.values() for e in stages.values() if e.cls is cls]
    if len(found) == 1:
        return found[0]
    if not found:
        raise GanzooError(f"{cls.__name__} is not a registered trainer; register it first")
    names = ", ".join(sorted(e.architecture for e in found))
    raise GanzooError(f"{cls.__name__} trains {names}: name the architecture instead")


def continues_a_stage(cls: type) -> bool:
    """Whether ``cls`` is registered as a stage that continues a trained model (``--from``)."""
    _load_builtins(trainers=True)
    return any(
        e.cls is cls and e.continues for stages in _TRAINERS.values() for e in stages.values()
    )


def list_models() -> list[str]:
    """Names of every registered architecture, sorted."""
    _load_builtins()
    return sorted(_MODELS)


def list_trainers() -> list[str]:
    """Names of every registered trainer, sorted."""
    _load_builtins(trainers=True)
    return sorted(_TRAINERS)


def get_model_entry(name: str) -> ModelEntry:
    """Return the :class:`ModelEntry` registered under ``name``.

    Raises:
        GanzooError: for an unknown name, with the closest known names.

    """
    _load_builtins()
    try:
        return _MODELS[name]
    except KeyError:
        raise GanzooError(
            f"unknown architecture '{name}'{did_you_mean(name, _MODELS)} (`ganzoo list` shows all)"
        ) from None


def get_trainer_entry(name: str, stage: str | None = None) -> TrainerEntry:
    """Return the :class:`TrainerEntry` of architecture ``name`` and ``stage``.

    Args:
        name: the architecture.
        stage: one of :func:`list_stages` (default: the stage that starts from a new model).

    Raises:
        GanzooError: for an unknown name or stage, with the closest known names.

    """
    _load_builtins(trainers=True)
    try:
        stages = _TRAINERS[name]
    except KeyError:
        raise GanzooError(
            f"no trainer for '{name}'{did_you_mean(name, _TRAINERS)}; "
            f"trainers exist for: {', '.join(sorted(_TRAINERS)) or 'none'}"
        ) from None
    if stage is None:
        first = [e for e in stages.values() if not e.continues]
        if not first:
            raise GanzooError(
                f"'{name}' has no stage that starts from a new model; stages: "
                f"{', '.join(sorted(stages))} (pass --stage)"
            )
        return first[0]
    try:
        return stages[stage]
    except KeyError:
        raise GanzooError(
            f"'{name}' has no training stage '{stage}'{did_you_mean(stage, stages)}; "
            f"stages: {', '.join(list_stages(name))}"
        ) from None


def list_stages(name: str) -> list[str]:
    """The training stages of architecture ``name``, the default (from a new model) first.

    Raises:
        GanzooError: for an architecture without a trainer.

    """
    _load_builtins(trainers=True)
    if name not in _TRAINERS:
        get_trainer_entry(name)  # raises the unknown-name error with its suggestions
    stages = _TRAINERS[name]
    return sorted(stages, key=lambda s: (stages[s].continues, s))


def trainer_entries(name: str) -> list[TrainerEntry]:
    """Every stage's :class:`TrainerEntry` of architecture ``name``, the default first.

    Raises:
        GanzooError: for an architecture without a trainer.

    """
    return [_TRAINERS[name][stage] for stage in list_stages(name)]


def get_trainer(name: str, stage: str | None = None) -> type:
    """Return the trainer class registered for architecture ``name`` (and ``stage``).

    Raises:
        GanzooError: for an unknown name or stage, with the closest known names.

    """
    return get_trainer_entry(name, stage).cls


def model_entries() -> list[ModelEntry]:
    """Every registered architecture's :class:`ModelEntry`, sorted by name."""
    _load_builtins()
    return [_MODELS[name] for name in sorted(_MODELS)]


def is_architecture(name: str) -> bool:
    """Whether ``name`` is a registered architecture."""
    _load_builtins()
    return name in _MODELS


def has_trainer(name: str) -> bool:
    """Whether a trainer is registered for the architecture ``name``."""
    _load_builtins(trainers=True)
    return name in _TRAINERS


def architectures_that_can(method: str) -> list[str]:
    """Names of the architectures that offer ``method`` (``"sample"``, ``"classify"``...)."""
    return [entry.name for entry in model_entries() if entry.cls.can(method)]


def build_model(architecture: str, config: Any = None) -> Any:
    """Build architecture ``architecture`` from a config (instance, dict of fields or ``None``).

    The config is type- and range-checked before any tensor is allocated, so building
    under ``with torch.device("meta"):`` sizes a model without memory.

    Raises:
        GanzooError: for an unknown architecture or a bad config.

    """
    return get_model_entry(architecture).cls(config)


def build_config(name: str | ModelEntry, preset: str | None = None, **overrides: Any) -> Any:
    """Return the config of an architecture (a name or its entry): a preset, fields overridden.

    Raises:
        GanzooError: for an unknown architecture, preset or config field.

    """
    entry = name if isinstance(name, ModelEntry) else get_model_entry(name)
    name = entry.name
    preset = preset or entry.default_preset
    if preset not in entry.presets:
        raise GanzooError(
            f"'{name}' has no preset '{preset}'{did_you_mean(preset, entry.presets)}; "
            f"presets: {', '.join(sorted(entry.presets))}"
        )
    return replace_config(entry.presets[preset], **overrides)


def replace_config(config: Any, **overrides: Any) -> Any:
    """``dataclasses.replace`` that checks what it is given, for model and trainer configs.

    Each override is checked against its field's annotation *before* the new config is
    made (so ``__post_init__`` never sees a value of the wrong type), then the whole
    config is type-checked and its ``validate()`` (ranges) runs, if it has one; see
    :mod:`ganzoo.config`.

    Raises:
        GanzooError: for an unknown field (with a did-you-mean) or a bad value.

    """
    from ganzoo.config import check_config, check_fields

    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise GanzooError(f"expected a config dataclass instance, got {type(config).__name__}")
    checked = check_fields(type(config), overrides)
    return check_config(dataclasses.replace(config, **checked) if checked else config)


def create_model(name: str, preset: str | None = None, **overrides: Any) -> Any:
    """Build a freshly initialised model of architecture ``name``.

    Args:
        name: a registered architecture (see :func:`list_models`).
        preset: a named configuration (default: the architecture's default, usually
            ``"report"``, the course report's exact configuration).
        **overrides: config fields to change, e.g. ``latent_dim=64``.

    Examples:
        >>> model = create_model("sgan", preset="report")  # doctest: +SKIP

    """
    entry = get_model_entry(name)
    return entry.cls(build_config(name, preset, **overrides))
