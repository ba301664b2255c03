"""What a model card says beyond the run: Hub metadata, papers, links and data sources.

The card's YAML front matter is built here as a ``huggingface_hub.ModelCardData``
(dumped by its YAML writer, never by hand): ``library_name``, ``license``,
``pipeline_tag``, ``tags``, ``datasets`` (only data sets the Hub has, by their Hub id)
and a ``model-index`` whose results are the measured metrics the card is given, each
with its task, data set, type and value. Metrics ganzoo does not know (or that are no
model's result, such as a data set's own FID floor or a KID's spread) stay in the
card's table only.

Links: the papers each architecture follows (arXiv), and the one project URL of
the package metadata (``[project.urls]`` in ``pyproject.toml``), when it has one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCardData

from ganzoo.card_text import md_text, plain_name

#: Data sets with a Hub copy: ganzoo's name -> the Hub's dataset id.
HUB_DATASETS = {"mnist": "ylecun/mnist", "cifar10": "uoft-cs/cifar10"}

#: How cards name ganzoo's data sets.
DATASET_TITLES = {
    "mnist": "MNIST",
    "fashion-mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10",
    "art64": "Abstract Art Gallery (WikiArt abstract expressionism), 64x64",
}

#: Data sets that ``ganzoo train --download`` fetches.
DOWNLOADABLE = ("mnist", "fashion-mnist", "cifar10")

#: The Hub's task types, by what a metric measures.
TASKS = {
    "classification": ("image-classification", "Image classification"),
    "generation": ("unconditional-image-generation", "Unconditional image generation"),
    "reconstruction": ("image-to-image", "Image reconstruction"),
}


@dataclass(frozen=True)
class MetricKind:
    """What one of ganzoo's metrics is, for the model-index.

    Attributes:
        task: a key of :data:`TASKS`.
        type: the metric's type (``accuracy``, ``fid``...).
        name: how the Hub shows it.

    """

    task: str
    type: str
    name: str


#: ganzoo's metric names (without a ``test_`` prefix, which names the split).
METRICS = {
    "accuracy": MetricKind("classification", "accuracy", "Accuracy"),
    "mse": MetricKind("reconstruction", "mse", "Reconstruction MSE"),
    "psnr": MetricKind("reconstruction", "psnr", "Reconstruction PSNR (dB)"),
    "perplexity": MetricKind("reconstruction", "perplexity", "Codebook perplexity"),
    "used_codes": MetricKind("reconstruction", "used_codes", "Codebook entries used"),
    "prior_bits_per_dim": MetricKind("generation", "bits_per_dim", "Prior bits per code"),
    "fid": MetricKind("generation", "fid", "FID"),
    "kid": MetricKind("generation", "kid", "KID"),
    "samples_fid": MetricKind("generation", "fid", "FID in the MNIST metric classifier's features"),
    "samples_confidence": MetricKind(
        "generation", "confidence", "Share of samples read with confidence >= 0.9"
    ),
    "samples_kl_uniform": MetricKind(
        "generation", "kl_uniform", "KL of the read classes from uniform"
    ),
    "samples_min_class_share": MetricKind(
        "generation", "min_class_share", "Smallest class share of the samples"
    ),
    "samples_max_class_share": MetricKind(
        "generation", "max_class_share", "Largest class share of the samples"
    ),
    "samples_agreement": MetricKind(
        "generation", "agreement", "Share of samples read as the digit asked for"
    ),
}

#: Tags by architecture, beside ``ganzoo``, ``pytorch`` and the architecture's name.
FAMILY_TAGS = {
    "sgan": ("gan", "semi-supervised"),
    "dcgan": ("gan",),
    "wgan": ("gan",),
    "wgan-gp": ("gan",),
    "vaegan": ("gan", "vae"),
    "vqvae": ("vq-vae",),
    "cnn": (),  # the SGAN's classifier trained on the labeled images alone
}

#: Architectures whose main use is classifying (the others draw images when they can).
CLASSIFIERS = ("sgan", "cnn")

#: Each architecture's page in ganzoo's documentation (``docs/models/``).
DOC_PAGES = {
    "sgan": "mnist.md",
    "cnn": "mnist.md",
    "vaegan": "mnist.md",
    "dcgan": "dcgan.md",
    "wgan": "wgan.md",
    "wgan-gp": "wgan-gp.md",
    "vqvae": "vqvae.md",
}


def metric_kind(name: str) -> tuple[MetricKind, str | None] | None:
    """What metric ``name`` is and the split it names (``test_accuracy``: test), if known."""
    base, split = (name[5:], "test") if name.startswith("test_") else (name, None)
    kind = METRICS.get(base)
    return None if kind is None else (kind, split)


def pipeline_tag(model: Any) -> str | None:
    """The Hub's pipeline for ``model``: classification for a classifier, else generation."""
    if model.can("classify") and (model.architecture in CLASSIFIERS or not model.can("sample")):
        return "image-classification"
    return "unconditional-image-generation" if model.can("sample") else None


def dataset_entry(dataset: Any) -> tuple[str, str]:
    """The model-index's data set type and name for ganzoo's data set name ``dataset``.

    A data set the Hub has is named by its Hub id; another of ganzoo's by its ganzoo
    name; a user's own (``folder:``, ``npz:``, ``image:``) by its kind only.
    """
    text = str(dataset)
    if text in HUB_DATASETS:
        return HUB_DATASETS[text], DATASET_TITLES[text]
    if plain_name(text) and ":" not in text:
        return text, DATASET_TITLES.get(text, text)
    kind = text.partition(":")[0] if plain_name(text.partition(":")[0]) else "custom"
    return kind, f"local {kind} data"


def eval_results(metrics: Mapping[str, Any], dataset: Any) -> list[EvalResult]:
    """The model-index results: each known metric of ``metrics`` with its value as given.

    Args:
        metrics: the measured metrics, ``{name: value}``.
        dataset: ganzoo's name of the data set they were measured on.

    Returns:
        One result per known, finite, numeric metric, in the order given.

    """
    dataset_type, dataset_name = dataset_entry(dataset)
    results = []
    for name, value in metrics.items():
        found = metric_kind(str(name))
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if found is None or not number or not math.isfinite(value):
            continue
        kind, split = found
        task_type, task_name = TASKS[kind.task]
        results.append(
            EvalResult(
                task_type=task_type,
                task_name=task_name,
                dataset_type=dataset_type,
                dataset_name=dataset_name,
                dataset_split=split,
                metric_type=kind.type,
                metric_name=kind.name,
                metric_value=value,
            )
        )
    return results


def card_metadata(
    model: Any, base: ModelCardData, metrics: Mapping[str, Any], model_name: str | None
) -> ModelCardData:
    """The card's front matter for ``model`` and its measured ``metrics``.

    Args:
        model: the model (its architecture, capabilities and data contract).
        base: the class's metadata (``library_name``, ``license``, tags).
        metrics: the measured metrics.
        model_name: the model-index's name (the architecture's if not a plain name).

    """
    data = ModelCardData(**base.to_dict())
    architecture = model.architecture
    tags = {*(data.tags or []), "ganzoo", "pytorch", *FAMILY_TAGS.get(architecture, ())}
    data.tags = sorted(tags | ({architecture} if plain_name(architecture) else set()))
    data.pipeline_tag = pipeline_tag(model)
    dataset = model.data_contract().get("dataset")
    if dataset in HUB_DATASETS:
        data.datasets = [HUB_DATASETS[dataset]]
    results = eval_results(metrics, dataset) if dataset is not None else []
    if results:
        data.eval_results = results
        data.model_name = model_name if plain_name(model_name) else architecture
        data.metrics = sorted({r.metric_type for r in results})
    return data


def project_url() -> str | None:
    """The project's one URL, the first of ``[project.urls]``; ``None`` when unset.

    A source checkout reads its ``pyproject.toml`` (an older install's metadata may
    be stale); an installed package reads its metadata.
    """
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib
        except ImportError:  # Python 3.10: read the installed metadata instead
            pass
        else:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
            if project.get("name") == "ganzoo":
                return next(iter((project.get("urls") or {}).values()), None)
    from importlib import metadata

    try:
        entries = metadata.metadata("ganzoo").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    return next((e.partition(",")[2].strip() for e in entries if "," in e), None)


def paper_links(papers: Any) -> list[str]:
    """The card's Markdown links to ``papers`` (``(title, url)`` pairs, or plain lines)."""
    links = []
    for paper in papers:
        if isinstance(paper, tuple) and len(paper) == 2:
            links.append(f"[{md_text(paper[0]).replace(']', '')}]({paper[1]})")
        else:
            links.append(md_text(paper))
    return links


def doc_page(architecture: str) -> str | None:
    """The architecture's page in ganzoo's documentation sources, ``docs/models/<page>``."""
    page = DOC_PAGES.get(architecture)
    return None if page is None else f"docs/models/{page}"


def input_shape(contract: Mapping[str, Any]) -> str:
    """The image batch a model takes, ``(n, C, H, W)``, from its data contract."""
    size = contract.get("image_size", "H")
    return f"(n, {contract.get('channels', 'C')}, {size}, {size})"


def data_note(dataset: Any) -> str:
    """Where the card's training command finds its data (it names no data folder)."""
    text = str(dataset or "")
    folder = (
        "ganzoo's data folder (`$GANZOO_DATA`, else `~/.cache/ganzoo/data`; "
        "`--data-root DIR` names another)"
    )
    if text in DOWNLOADABLE:
        return (
            f"The command reads {DATASET_TITLES[text]} from {folder}; add `--download` "
            "to fetch it there on first use."
        )
    if text == "art64":
        return (
            f"The command reads the art set from `abstract-art/images64.npz` in {folder}. "
            "It is not downloaded: save the 64x64 paintings there as an `x` array of uint8, "
            "shape (N, 64, 64, 3)."
        )
    if ":" in text:
        return (
            "The command's `--dataset` named the trainer's own files (their folder left "
            "out); point it at yours."
        )
    return ""
