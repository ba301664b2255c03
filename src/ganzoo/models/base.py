"""The base class of every ganzoo model: an ``nn.Module`` in the Hub's format.

:class:`ZooModel` builds on huggingface_hub's ``PyTorchModelHubMixin``, so
``save_pretrained`` / ``push_to_hub`` write the Hub's own layout
(``config.json`` + ``model.safetensors`` + ``README.md``), and
``from_pretrained`` reads it back strictly: a missing or unexpected tensor is
an error, never ignored.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import torch
from huggingface_hub import ModelCard, PyTorchModelHubMixin
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
    tags=["ganzoo", "pytorch"],
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
    #: Papers the architecture follows, ``(citation, arXiv URL)`` pairs, for model cards.
    papers: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__()
        self.config = coerce_config(self.config_class, config, overrides)
        #: The training runs these weights went through, oldest first
        #: (:mod:`ganzoo.lineage`); saved in ``config.json``.
        self.lineage: list[dict[str, Any]] = []

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
        """Render the model card: Hub metadata, a metrics table and the sample grid.

        The YAML front matter (:func:`ganzoo.card_data.card_metadata`) holds a
        ``model-index`` of the measured ``metrics``; the training command and lineage
        are shown as another user can run them (:func:`ganzoo.card_text.runnable_commands`).

        Keyword Args:
            metrics (dict[str, Any]): measured values (shown as a table and in the YAML).
            command (str): the command that trained it.
            training (dict[str, Any]): other facts (seed, device, wall time...).
            samples (str): file name of a sample grid in the same folder.
            reconstructions (str): file name of a picture of inputs above their
                reconstructions (and code maps) in the same folder.
            model_name (str): the title.
            model_id (str): the name the card's usage snippets load.

        Everything users choose (data set names, commands, metric names, lineage) is
        escaped for Markdown and loses absolute local paths (:mod:`ganzoo.card_text`).

        """
        from ganzoo import card_data
        from ganzoo.card_text import card_fields, runnable_lineage
        from ganzoo.lineage import table_rows, total_steps

        metrics: dict[str, Any] = kwargs.pop("metrics", None) or {}
        model_name = kwargs.pop("model_name", None)
        lineage = list(getattr(self, "lineage", []) or [])
        legs, command = runnable_lineage(
            lineage, kwargs.pop("command", None), model_name or self.architecture
        )
        info = self._hub_mixin_info
        fields = card_fields(
            contract=self.data_contract(),
            metrics=metrics,
            command=command,
            training=kwargs.pop("training", None) or {},
            model_name=model_name or self.architecture,
            model_id=kwargs.pop("model_id", None),
        )
        return ModelCard.from_template(
            card_data=card_data.card_metadata(self, info.model_card_data, metrics, model_name),
            template_str=info.model_card_template,
            architecture=self.architecture,
            description=(type(self).__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
            papers=card_data.paper_links(self.papers),
            samples=kwargs.pop("samples", None),
            reconstructions=kwargs.pop("reconstructions", None),
            lineage=table_rows(legs),
            lineage_steps=f"{total_steps(lineage):,}",
            project_url=card_data.project_url(),
            doc_page=card_data.doc_page(self.architecture),
            data_note=card_data.data_note(self.data_contract().get("dataset")),
            can_sample=self.can("sample"),
            input_shape=card_data.input_shape(self.data_contract()),
            version=__version__,
            **fields,
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
        ``--recipe conditional``); such a model's ``sample`` declares ``labels``.
        """
        return self.can("sample") and bool(getattr(self.config, "conditional", False))

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
        self, n: int, seed: int | None = None, device: str | torch.device | None = None
    ) -> torch.Tensor:
        """Draw ``n`` images in :attr:`value_range`, shape ``(n, C, H, W)``.

        The same ``seed`` gives the same images. A conditional generator (:attr:`conditional`)
        also takes ``labels=`` (see :meth:`ganzoo.archs.sgan.model.SGAN.sample`).
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
        self, n: int, seed: int | None = None, device: str | torch.device | None = None
    ) -> torch.Tensor:
        """Decode ``n`` latents drawn from N(0, I); the same ``seed`` gives the same images."""
        device = torch.device(device) if device is not None else self.device  # type: ignore[attr-defined]
        z = latent_noise(n, self.config.latent_dim, seed, device)  # type: ignore[attr-defined]
        return self.decode(z)  # type: ignore[attr-defined]


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
