"""The base class of every ganzoo model: an ``nn.Module`` in the Hub's format.

:class:`ZooModel` builds on huggingface_hub's ``PyTorchModelHubMixin``, so
``save_pretrained`` / ``push_to_hub`` write the Hub's own layout
(``config.json`` + ``model.safetensors`` + ``README.md``), and
``from_pretrained`` reads it back strictly: a missing or unexpected tensor is
an error, never ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from huggingface_hub import ModelCard, ModelCardData, PyTorchModelHubMixin
from torch import nn

from ganzoo._version import __version__
from ganzoo.errors import GanzooError

#: Model-card template (Jinja, rendered by huggingface_hub's ``ModelCard``).
MODEL_CARD_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "model_card.md"

#: The config fields that make up a model's data contract, when the config has them.
_CONTRACT_FIELDS = ("image_size", "channels", "latent_dim", "num_classes", "dataset")


def coerce_config(config_class: type, config: Any = None, overrides: dict | None = None) -> Any:
    """Turn ``None``, a dict or a config instance, plus overrides, into a checked config.

    Every value is checked against its field's type, then the config's ``validate()``
    checks ranges (see :func:`ganzoo.registry.replace_config`), before any network is
    sized from it.

    Raises:
        GanzooError: for a field the config class does not have, a value of the wrong type
            or out of range, or a config of the wrong type.

    """
    from ganzoo.registry import replace_config

    if config is None:
        config = config_class()
    elif isinstance(config, dict):
        return replace_config(config_class(), **{**config, **(overrides or {})})
    elif not isinstance(config, config_class):
        raise GanzooError(
            f"expected a {config_class.__name__} (or a dict of its fields), "
            f"got {type(config).__name__}"
        )
    return replace_config(config, **(overrides or {}))


class ZooModel(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="ganzoo",
    license="mit",
    tags=["ganzoo", "pytorch", "generative-adversarial-network"],
    repo_url="https://github.com/ganzoo/ganzoo",
    docs_url="https://github.com/ganzoo/ganzoo/tree/main/docs",
    model_card_template=MODEL_CARD_TEMPLATE.read_text(encoding="utf-8"),
):
    """Base class of every architecture in the zoo.

    A subclass sets ``config_class`` (a dataclass), builds its networks in
    ``__init__(config)`` and overrides whichever of :meth:`sample`,
    :meth:`classify`, :meth:`encode`, :meth:`decode`, :meth:`reconstruct` it can offer.

    Args:
        config: a ``config_class`` instance, a dict of its fields, or ``None`` for defaults.
        **overrides: config fields to change.

    """

    config_class: ClassVar[type]
    architecture: ClassVar[str] = ""
    #: Pixel value range the model consumes and produces.
    value_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    #: Papers the architecture follows, for model cards.
    papers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__()
        self.config = coerce_config(self.config_class, config, overrides)
        #: The training runs these weights went through, oldest first
        #: (:mod:`ganzoo.lineage`); saved in ``config.json``.
        self.lineage: list[dict[str, Any]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a ``sample`` written without ``labels`` the one-line refusal of labels.

        Every model's ``sample`` takes ``labels=``; one that was written before labels
        existed (or by a user) answers ``labels=...`` with :meth:`no_labels_error`
        instead of a ``TypeError``, and samples as before without them.
        """
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("sample")
        if callable(own) and not _takes_labels(own):
            cls.sample = _refusing_labels(own)  # type: ignore[method-assign]

    # ------------------------------------------------------------------ metadata
    @property
    def device(self) -> torch.device:
        """Device of the model's first parameter (CPU for a model without parameters)."""
        first = next(self.parameters(), None)
        return first.device if first is not None else torch.device("cpu")

    def data_contract(self) -> dict[str, Any]:
        """What data the model expects: image size, channels, value range, latent size, classes."""
        contract: dict[str, Any] = {"value_range": list(self.value_range)}
        for name in _CONTRACT_FIELDS:
            if hasattr(self.config, name):
                contract[name] = getattr(self.config, name)
        return contract

    def hub_config(self) -> dict[str, Any]:
        """The content of ``config.json``: architecture, version, config, data contract, lineage."""
        config = {
            "architecture": self.architecture,
            "ganzoo_version": __version__,
            "config": dataclasses.asdict(self.config),
            "data": self.data_contract(),
        }
        if getattr(self, "lineage", None):
            config["lineage"] = [dict(leg) for leg in self.lineage]
        return config

    # ------------------------------------------------------------------ hub format
    def _save_pretrained(self, save_directory: Path) -> None:
        """Write ``model.safetensors`` and ``config.json`` (called by ``save_pretrained``)."""
        from ganzoo.hub import write_checkpoint

        write_checkpoint(self, save_directory)

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """Render the model card: Hub YAML metadata, a metrics table and the sample grid.

        Keyword Args:
            metrics (dict[str, Any]): measured values (shown as a table and in the YAML).
            command (str): the command that trained it.
            training (dict[str, Any]): other facts (seed, device, wall time...).
            samples (str): file name of a sample grid in the same folder.
            reconstructions (str): file name of a picture of inputs above their
                reconstructions (and code maps) in the same folder.
            model_name (str): the title.

        """
        from ganzoo.lineage import table_rows, total_steps

        metrics: dict[str, Any] = kwargs.pop("metrics", None) or {}
        lineage = list(getattr(self, "lineage", []) or [])
        contract = self.data_contract()
        info = self._hub_mixin_info
        card_data = ModelCardData(**info.model_card_data.to_dict())
        card_data.tags = sorted(set((card_data.tags or []) + [self.architecture]))
        if contract.get("dataset"):
            card_data.datasets = [contract["dataset"]]
        if metrics:
            card_data.metrics = sorted(metrics)
        return ModelCard.from_template(
            card_data=card_data,
            template_str=info.model_card_template,
            model_name=kwargs.pop("model_name", None) or self.architecture,
            architecture=self.architecture,
            description=(type(self).__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
            papers=list(self.papers),
            metrics=metrics,
            contract=contract,
            command=kwargs.pop("command", None),
            training=kwargs.pop("training", None) or {},
            samples=kwargs.pop("samples", None),
            reconstructions=kwargs.pop("reconstructions", None),
            lineage=table_rows(lineage),
            lineage_steps=f"{total_steps(lineage):,}",
            repo_url=info.repo_url,
            docs_url=info.docs_url,
            version=__version__,
            **kwargs,
        )

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls, pretrained_model_name_or_path: str | Path, **options: Any
    ) -> ZooModel:
        """Load a checkpoint of this architecture; see :func:`ganzoo.hub.from_pretrained`.

        ``options`` are those of :func:`ganzoo.hub.from_pretrained` (``revision``,
        ``device``, ``token``...). Called on a subclass, the checkpoint must be of that
        architecture.

        Raises:
            GanzooError: for anything :func:`ganzoo.hub.from_pretrained` refuses, or a
                checkpoint of another architecture.

        """
        from ganzoo.hub import from_pretrained

        model = from_pretrained(pretrained_model_name_or_path, **options)
        if cls is not ZooModel and not isinstance(model, cls):
            raise GanzooError(
                f"'{pretrained_model_name_or_path}' is a '{model.architecture}' checkpoint, "
                f"not '{cls.architecture}'; load it with ganzoo.from_pretrained"
            )
        return model

    def push_to_hub(self, repo_id: str, **options: Any) -> str:  # type: ignore[override]
        """Save this model to a temporary folder and publish it with :func:`ganzoo.hub.upload.push`.

        The upload is the same as ``ganzoo push``'s: the folder is checked first and only
        the checkpoint's files are sent. ``options`` are those of :func:`ganzoo.hub.upload.push`
        (``private``, ``token``, ``commit_message``, ``revision``); ``model_card_kwargs``
        customise the model card.

        Returns:
            The URL of the commit.

        """
        import tempfile

        from ganzoo.hub import push

        options.pop("config", None)  # passed by the mixin's save_pretrained(push_to_hub=True)
        card_kwargs = options.pop("model_card_kwargs", None)
        with tempfile.TemporaryDirectory(prefix="ganzoo-push-") as tmp:
            folder = Path(tmp) / "checkpoint"
            self.save_pretrained(folder, model_card_kwargs=card_kwargs)
            return push(folder, repo_id, **options)

    # ------------------------------------------------------------------ capabilities
    @property
    def conditional(self) -> bool:
        """Whether the generator draws a requested class: ``sample(n, labels=...)``.

        True for a generator whose config has ``conditional=True`` (an SGAN trained with
        ``--recipe conditional``).
        """
        return self.can("sample") and bool(getattr(self.config, "conditional", False))

    def no_labels_error(self) -> GanzooError:
        """The one-line error for ``labels=`` given to a model without a conditional generator.

        It names where conditional generators come from (:func:`conditional_generators`).
        """
        return GanzooError(
            f"this '{self.architecture or type(self).__name__}' model has no conditional "
            f"generator, so it takes no labels; {conditional_generators()}"
        )

    @classmethod
    def can(cls, method: str) -> bool:
        """Whether this architecture offers ``method`` (``"sample"``, ``"classify"``...)."""
        return getattr(cls, method, None) is not getattr(ZooModel, method, None)

    def _unsupported(self, method: str) -> GanzooError:
        from ganzoo.registry import architectures_that_can

        able = architectures_that_can(method)
        return GanzooError(
            f"'{self.architecture or type(self).__name__}' models cannot {method}(); "
            f"architectures that can: {', '.join(able) or 'none'}"
        )

    def sample(
        self,
        n: int,
        seed: int | None = None,
        device: str | torch.device | None = None,
        *,
        labels: int | Any | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` images in :attr:`value_range`, shape ``(n, C, H, W)``.

        ``labels`` (a class index, or one per image) asks a conditional generator
        (:attr:`conditional`) for those classes; other models refuse it in one line.
        """
        raise self._unsupported("sample")

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(n, num_classes)`` for images ``x`` in :attr:`value_range`."""
        raise self._unsupported("classify")

    def encode(self, x: torch.Tensor) -> Any:
        """Encode images to the model's latent representation."""
        raise self._unsupported("encode")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decode latents to images in :attr:`value_range`."""
        raise self._unsupported("decode")

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Encode then decode images."""
        raise self._unsupported("reconstruct")


class GaussianPrior:
    """Mixin for models that sample by decoding ``z ~ N(0, I)`` of size ``config.latent_dim``.

    A model opts in by listing it before :class:`ZooModel` and defining ``decode(z)``;
    one with another prior (a VQ-VAE's PixelCNN over codes) overrides ``sample`` instead.
    """

    def sample(
        self,
        n: int,
        seed: int | None = None,
        device: str | torch.device | None = None,
        *,
        labels: int | Any | None = None,
    ) -> torch.Tensor:
        """Decode ``n`` latents drawn from N(0, I); the same ``seed`` gives the same images.

        A conditional model (``model.conditional``) decodes each latent with a class:
        ``labels`` is one class index for all ``n`` images, or one per image (a list,
        array or tensor of length ``n``), each in ``0..num_classes-1``. Without
        ``labels`` it draws them itself, balanced: every class ``n // num_classes`` or
        one more times, in a random order (from ``seed`` when given). The latents do
        not depend on the labels: the same seed with other labels draws other digits
        in the same styles.

        Raises:
            GanzooError: for labels out of range or of the wrong length, or labels given
                to a model without a conditional generator.

        """
        conditional = self.conditional  # type: ignore[attr-defined]
        if labels is not None and not conditional:
            raise self.no_labels_error()  # type: ignore[attr-defined]
        device = torch.device(device) if device is not None else self.device  # type: ignore[attr-defined]
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        z = latent_noise(n, self.config.latent_dim, seed, device, generator=generator)  # type: ignore[attr-defined]
        if not conditional:
            return self.decode(z)  # type: ignore[attr-defined]
        num_classes = self.config.num_classes  # type: ignore[attr-defined]
        if labels is None:
            y = balanced_labels(n, num_classes, generator)
        else:
            y = check_labels(labels, n, num_classes)
        return self.decode(z, y.to(device))  # type: ignore[attr-defined]


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
                hook = getattr(stage.cls, "model_overrides", None)
                recipes += [
                    name
                    for name, recipe in stage.recipes.items()
                    if callable(hook) and hook(recipe).get("conditional")
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


def _takes_labels(sample: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(sample).parameters
    except (TypeError, ValueError):
        return True  # nothing to inspect: leave it as it is
    return "labels" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _refusing_labels(sample: Callable[..., Any]) -> Callable[..., Any]:
    """``sample`` plus a ``labels`` keyword that only ``None`` passes (``__init_subclass__``)."""

    @functools.wraps(sample)
    def wrapper(self: ZooModel, *args: Any, labels: Any = None, **kwargs: Any) -> torch.Tensor:
        if labels is not None:
            raise self.no_labels_error()
        return sample(self, *args, **kwargs)

    return wrapper


def latent_noise(
    n: int,
    dim: int,
    seed: int | None,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Standard normal latents ``(n, dim)``; reproducible across devices when ``seed`` is given.

    With a seed the noise is drawn on the CPU and moved, so the same seed gives the same
    images on CPU and CUDA.
    """
    if generator is not None:
        return torch.randn(n, dim, generator=generator, device=generator.device).to(device)
    if seed is None:
        return torch.randn(n, dim, device=device)
    cpu = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=cpu).to(device)


def keras_parameter_count(module: nn.Module) -> int:
    """Parameters as Keras counts them: trainable weights plus BatchNorm moving statistics."""
    count = sum(p.numel() for p in module.parameters())
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm) and sub.running_mean is not None:
            count += sub.running_mean.numel() + sub.running_var.numel()
    return count
