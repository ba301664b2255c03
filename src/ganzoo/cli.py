"""The ``ganzoo`` command line: a thin layer over the library.

Results go to stdout, progress and logs to stderr. A user error prints one line
(``error: ...``) and exits with status 1. Heavy imports (torch) happen inside
the commands, so ``ganzoo --help`` answers at once.
"""

from __future__ import annotations

import functools
import json
import shlex
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ganzoo._version import __version__
from ganzoo.errors import GanzooError, did_you_mean

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="ganzoo",
    help="A zoo of GANs, VAE-GANs and VQ-VAEs: list, sample, encode, train, evaluate, push.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def friendly(func: F) -> F:
    """Turn library errors into one line on stderr and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GanzooError as exc:
            raise _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", 130) from None
        except (OSError, MemoryError) as exc:
            raise _fail(f"{type(exc).__name__}: {exc}") from None

    return wrapper  # type: ignore[return-value]


def _err_console():  # noqa: ANN202 - rich is imported lazily
    from rich.console import Console

    return Console(stderr=True)


def _out_console():  # noqa: ANN202
    from rich.console import Console

    return Console()


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ganzoo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """A zoo of GANs, VAE-GANs and VQ-VAEs: list, sample, encode, train, evaluate, push."""


# ------------------------------------------------------------------------------- options
Device = Annotated[
    str | None,
    typer.Option("--device", "-d", help="cpu, cuda, cuda:N, mps (default: best available)."),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output on stderr.")]
Revision = Annotated[str | None, typer.Option("--revision", help="Hub branch, tag or commit.")]
DataRoot = Annotated[
    Path | None,
    typer.Option(
        "--data-root", help="Where data sets live (default: $GANZOO_DATA or ~/.cache/ganzoo/data)."
    ),
]


def _check_positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise GanzooError(f"{name} must be at least 1, got {value}")


_MAX_SEED = 2**63 - 1


def _check_seed(seed: int | None) -> None:
    if seed is not None and not 0 <= seed <= _MAX_SEED:
        raise GanzooError(f"--seed must be between 0 and 2**63-1, got {seed}")


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        s in text for s in ("out of memory", "not enough memory", "can't allocate memory")
    )


class _MemoryGuard:
    """Turn running out of memory during a batched pass into one line naming ``--batch-size``."""

    def __init__(self, batch_size: int, device: Any) -> None:
        self.batch_size, self.device = batch_size, device

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and _is_out_of_memory(exc):
            smaller = max(1, self.batch_size // 2)
            raise GanzooError(
                f"out of memory with --batch-size {self.batch_size} on {self.device}; "
                f"lower it, e.g. -b {smaller}"
            ) from None


def _load(name: str, device: str | None, revision: str | None) -> Any:
    from ganzoo.devices import select_device
    from ganzoo.hub import from_pretrained

    return from_pretrained(name, revision=revision, device=select_device(device))


# ------------------------------------------------------------------------------- list / info
@app.command("list")
@friendly
def list_command() -> None:
    """List the architectures and the pretrained models."""
    from rich.table import Table

    from ganzoo.catalog import load_catalog
    from ganzoo.registry import get_model_entry, list_models, list_trainers

    trainers = set(list_trainers())
    arch = Table(title="Architectures", title_justify="left")
    for column in ("name", "presets", "trainer", "description"):
        arch.add_column(column)
    for name in list_models():
        entry = get_model_entry(name)
        presets = ", ".join(sorted(entry.presets, key=lambda p: p != entry.default_preset))
        arch.add_row(name, presets, "yes" if name in trainers else "-", entry.description)
    pre = Table(title="Pretrained models", title_justify="left")
    for column in ("name", "architecture", "dataset", "metrics", "where"):
        pre.add_column(column)
    for info in load_catalog().values():
        metrics = ", ".join(f"{k} {v}" for k, v in info.metrics.items())
        where = "bundled" if info.bundled else (info.repo_id or "-")
        pre.add_row(info.name, info.architecture, info.dataset, metrics, where)
    console = _out_console()
    console.print(arch)
    console.print(pre)


@app.command()
@friendly
def info(
    name: Annotated[
        str, typer.Argument(help="An architecture, a pretrained name, a Hub repo id or a folder.")
    ],
    revision: Revision = None,
) -> None:
    """Show an architecture's presets, or a checkpoint's config, data contract and metrics."""
    from ganzoo.catalog import load_catalog
    from ganzoo.registry import (
        get_model_entry,
        get_trainer_entry,
        has_trainer,
        is_architecture,
        list_models,
        trainer_entries,
    )

    if is_architecture(name):
        import dataclasses

        from ganzoo.models.base import keras_parameter_count

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


# ------------------------------------------------------------------------------- sample
Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite", help="Replace an existing file, or write into a folder that is not empty."
    ),
]


@app.command()
@friendly
def sample(
    name: Annotated[str, typer.Argument(help="Pretrained name, Hub repo id or checkpoint folder.")],
    out: Annotated[
        str,
        typer.Option(
            "--out", "-o", help="grid.png (.jpg...), images.npy, images.npz or a folder of PNGs."
        ),
    ],
    n: Annotated[int, typer.Option("-n", "--num", help="How many images.")] = 64,
    seed: Annotated[
        int | None, typer.Option("--seed", "-s", help="Seed (same seed, same images).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", help="Images per forward pass (at most 1024).")
    ] = 256,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            help="Class to draw, for a conditional generator (repeat, or a comma list: "
            "equal consecutive blocks of the -n images).",
        ),
    ] = None,
    overwrite: Overwrite = False,
    device: Device = None,
    revision: Revision = None,
    quiet: Quiet = False,
) -> None:
    """Draw images from a generative model and save them."""
    _check_positive("-n", n)
    _check_positive("--batch-size", batch_size)
    _check_seed(seed)
    classes = _parse_labels(label)
    from ganzoo.sampling import (
        MAX_BATCH_SIZE,
        check_output,
        label_blocks,
        sample_batches,
        save_samples,
    )

    check_output(out, overwrite)
    path = Path(out)
    _check_writable(path)
    if batch_size > MAX_BATCH_SIZE:
        if not quiet:
            typer.echo(f"note: drawing {MAX_BATCH_SIZE} images per forward pass", err=True)
        batch_size = MAX_BATCH_SIZE
    import torch

    model = _load(name, device, revision).to(memory_format=torch.channels_last)  # faster convs
    labels = None
    if classes:
        if not model.conditional:
            from ganzoo.models.base import conditional_generators

            raise GanzooError(
                f"--label needs a conditional generator and '{name}' has none; "
                f"{conditional_generators()}"
            )
        known = model.config.num_classes
        outside = [c for c in classes if not 0 <= c < known]
        if outside:
            raise GanzooError(
                f"--label must be between 0 and {known - 1} (the classes of '{name}'), "
                f"got {outside[0]}"
            )
        labels = label_blocks(classes, n)
    with _MemoryGuard(batch_size, model.device):
        batches = sample_batches(model, n, batch_size, seed=seed, labels=labels)
        save_samples(batches, path, n, value_range=model.value_range, overwrite=overwrite)
    if not quiet:
        which = f" (label {', '.join(map(str, classes))})" if classes else ""
        typer.echo(f"wrote {n} samples of {name}{which} to {path}", err=True)
    typer.echo(str(path))


def _parse_labels(values: list[str] | None) -> list[int]:
    """``--label 3 --label 5,7`` as ``[3, 5, 7]``; one line for anything but integers."""
    classes: list[int] = []
    for value in values or []:
        for part in value.split(","):
            part = part.strip()
            if not part.isascii() or not part.removeprefix("-").isdigit():
                raise GanzooError(
                    f"--label takes class indices (e.g. --label 7 or --label 3,5), got '{part}'"
                )
            classes.append(int(part))
    return classes


def _check_writable(out: Path) -> None:
    import os

    probe = out if out.suffix == "" and out.is_dir() else out.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise GanzooError(f"cannot write to {out}: {probe} is not writable; choose another --out")


# ------------------------------------------------------------------------------- encode
@app.command()
@friendly
def encode(
    name: Annotated[str, typer.Argument(help="Pretrained name, Hub repo id or checkpoint folder.")],
    data: Annotated[
        str,
        typer.Argument(
            help="A data set (mnist, cifar10...), an image, an .npz file or a folder of images."
        ),
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="Output .npz file.")],
    split: Annotated[str, typer.Option("--split", help="train, test or all.")] = "test",
    batch_size: Annotated[int, typer.Option("--batch-size", "-b")] = 500,
    overwrite: Overwrite = False,
    data_root: DataRoot = None,
    device: Device = None,
    revision: Revision = None,
    quiet: Quiet = False,
) -> None:
    """Encode images with a model's encoder and save the codes as ``.npz``.

    A VQ-VAE's code grids are saved as integers (int16, or int32 for codebooks over
    32,768 codes) under ``codes``; labels, when the data has them, under ``labels``.
    """
    _check_positive("--batch-size", batch_size)
    from ganzoo.encoding import check_codes_path, encode_dataset, save_codes

    path = check_codes_path(out, overwrite)
    _check_writable(path)
    model = _load(name, device, revision)
    if not model.can("encode"):
        raise model._unsupported("encode")
    dataset = _load_input(data, split, data_root, model)
    with _MemoryGuard(batch_size, model.device):
        codes = encode_dataset(model, dataset, batch_size)
    path = save_codes(codes, path, overwrite)
    if not quiet:
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in codes.items())
        typer.echo(f"encoded {len(dataset)} images: {shapes}", err=True)
    typer.echo(str(path))


def _load_input(data: str, split: str, data_root: Path | None, model: Any) -> Any:
    from ganzoo.data import load_dataset

    if not data.strip():
        raise GanzooError(
            "the data set is empty; give a name (mnist, cifar10...), npz:<file> or a folder"
        )
    from ganzoo.data.readers import IMAGE_EXTENSIONS

    contract = model.data_contract()
    forms = ("npz:", "folder:", "image:")
    if Path(data).is_dir():
        data = f"folder:{data}"
    elif data.lower().endswith(".npz") and not data.startswith(forms):
        data = f"npz:{data}"  # a missing file then says so, instead of "unknown dataset"
    elif Path(data).suffix.lower() in IMAGE_EXTENSIONS and not data.startswith(forms):
        data = f"image:{data}"  # one picture
    if data.startswith(forms):  # a user's own images: one split, the model's shape
        return load_dataset(
            data,
            "all",
            root=data_root,
            image_size=contract.get("image_size"),
            channels=contract.get("channels"),
        )
    return load_dataset(data, split, root=data_root)


# ------------------------------------------------------------------------------- eval
def _other_split(data: Any, split: str) -> str | None:
    """The named data set's other split (train <-> test), or ``None`` where it has none."""
    from ganzoo.data.sources import SOURCES

    source = SOURCES.get(data.name)
    other = {"train": "test", "test": "train"}.get(split)
    return other if source is not None and source.path is None and other in source.splits else None


@app.command("eval")
@friendly
def eval_command(
    name: Annotated[str, typer.Argument(help="Pretrained name, Hub repo id or checkpoint folder.")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Default: the model's own.")
    ] = None,
    split: Annotated[
        str | None,
        typer.Option("--split", help="train, test or all (default: test; train with --metric)."),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="fid, kid, confidence, balance or (conditional generators) agreement of "
            "generated images (repeat, or a comma list).",
        ),
    ] = None,
    n: Annotated[
        int | None, typer.Option("-n", "--num", help="Images to generate for --metric [5000].")
    ] = None,
    feature: Annotated[
        str | None,
        typer.Option(
            "--feature",
            help="Feature network of fid/kid [inception-tf]; mnist-classifier for MNIST digits.",
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Softmax probability of a confident reading [0.9]."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", "-s", help="Seed of the generated images [0].")
    ] = None,
    real_n: Annotated[
        int | None, typer.Option("--real-n", help="Real images to compare with [all].")
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Cache of the real set's features [$GANZOO_CACHE/fid or ~/.cache/ganzoo/fid].",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write that cache.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b")] = 1000,
    data_root: DataRoot = None,
    device: Device = None,
    revision: Revision = None,
    quiet: Quiet = False,
) -> None:
    """Measure a model on a data set and print JSON.

    Without --metric: accuracy and/or reconstruction error. With --metric fid/kid:
    FID/KID of generated images against the data set, with the protocol; with
    --feature mnist-classifier also the floor (the other split's real images, as many
    as -n, against the same set). confidence and balance read the generated digits
    with ganzoo's MNIST classifier (1x28x28 generators); agreement, the share read as
    the class asked for (conditional generators).
    """
    _check_positive("--batch-size", batch_size)
    if dataset is not None and not dataset.strip():
        raise GanzooError("--dataset is empty; leave it out to use the model's own data set")
    generative = {"-n": n, "--feature": feature, "--seed": seed, "--real-n": real_n}
    generative |= {"--cache-dir": cache_dir, "--no-cache": no_cache or None}
    generative |= {"--threshold": threshold}
    if not metric:
        given = [option for option, value in generative.items() if value is not None]
        if given:
            raise GanzooError(
                f"{given[0]} applies to generated images; add --metric fid, kid, "
                "confidence or balance"
            )
        split = split or "test"
    else:
        from ganzoo.sample_quality import parse_eval_metrics

        fid_kid, reading = parse_eval_metrics(metric)
        _check_seed(seed)
        if feature is not None and not fid_kid:
            raise GanzooError(
                "--feature chooses the network of fid and kid; confidence and balance "
                "always read with mnist-classifier"
            )
        if threshold is not None and not reading:
            raise GanzooError("--threshold applies to --metric confidence")
        split = split or "train"
    model = _load(name, device, revision)
    if metric and reading:
        from ganzoo.sample_quality import check_conditional_generator, check_digit_generator

        check_digit_generator(model, name)  # before loading any data
        if "agreement" in reading:
            check_conditional_generator(model, name)
    dataset = dataset or model.data_contract().get("dataset")
    if metric and not fid_kid:
        data = None  # confidence and balance need no real images
    elif not dataset:
        raise GanzooError(f"'{name}' names no data set; pass --dataset")
    else:
        data = _load_input(dataset, split, data_root, model)
    if metric:
        from ganzoo.sample_quality import CLASSIFIER, sample_metrics

        def log(line: str) -> None:
            if not quiet:
                typer.echo(line, err=True)

        floor_split = _other_split(data, split) if data is not None else None
        floor_data = None
        if feature == CLASSIFIER and "fid" in fid_kid and floor_split:
            floor_data = _load_input(dataset, floor_split, data_root, model)
        results = sample_metrics(
            model,
            data,
            5000 if n is None else n,
            metrics=[*fid_kid, *reading],
            feature=feature or "inception-tf",
            seed=seed or 0,
            threshold=0.9 if threshold is None else threshold,
            real_n=real_n,
            split=split,
            floor_data=floor_data,
            floor_split=floor_split,
            cache_dir=cache_dir,
            use_cache=not no_cache,
            log=log,
        )
        typer.echo(json.dumps({"model": name, **results}))
        return
    from ganzoo.metrics import evaluate_model

    with _MemoryGuard(batch_size, model.device):
        results = evaluate_model(model, data, batch_size)
    typer.echo(
        json.dumps({"model": name, "dataset": dataset, "split": split, "n": len(data), **results})
    )


# ------------------------------------------------------------------------------- train
def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs to a dict; values are JSON where they parse, else strings."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise GanzooError(f"--set expects key=value, got '{pair}'")
        if key in values:
            raise GanzooError(f"'{key}' is set twice; give each key once")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


@app.command()
@friendly
def train(
    architecture: Annotated[str, typer.Argument(help="An architecture (`ganzoo list`).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run folder (becomes a Hub-format checkpoint).")
    ],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Default: the model's own.")
    ] = None,
    labels: Annotated[
        int | None, typer.Option("--labels", help="Labeled examples (semi-supervised).")
    ] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Optimisation steps.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", "-b")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", "-s")] = None,
    preset: Annotated[
        str | None, typer.Option("--preset", help="Model preset (default: report).")
    ] = None,
    recipe: Annotated[
        str | None, typer.Option("--recipe", help="Training recipe (e.g. report, best).")
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="Training stage, e.g. prior for a VQ-VAE (default: first)."),
    ] = None,
    start_from: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="The trained model a later --stage continues (folder or pretrained name).",
        ),
    ] = None,
    init_from: Annotated[
        str | None,
        typer.Option(
            "--init-from",
            help="Start from this checkpoint's networks (pretrained name, Hub id or folder) "
            "with fresh optimisers: fine-tuning, or a next leg of a long training.",
        ),
    ] = None,
    precision: Annotated[str | None, typer.Option("--precision", help="fp32 or bf16.")] = None,
    ema: Annotated[float | None, typer.Option("--ema", help="EMA decay of the generator.")] = None,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="Trainer option key=value (repeatable).")
    ] = None,
    model_sets: Annotated[
        list[str] | None, typer.Option("--model-set", help="Model config key=value (repeatable).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from <out>/checkpoint.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Write into an --out folder that is not empty and not a ganzoo run."
        ),
    ] = False,
    data_root: DataRoot = None,
    download: Annotated[
        bool, typer.Option("--download", help="Download a missing data set.")
    ] = False,
    device: Device = None,
    quiet: Quiet = False,
) -> None:
    """Train an architecture; the run folder ends up loadable by ``from_pretrained``.

    Ctrl-C or SIGTERM stops after the current step with a checkpoint saved (exit 130 or
    143); ``--resume`` continues it. An architecture trained in stages (a VQ-VAE: its
    autoencoder, then a prior over its codes) trains its first stage by default; a later
    stage continues a trained model into a new run folder:
    ``--stage prior --from runs/vq --out runs/vq-prior``. ``--init-from dcgan-art64``
    starts a new run from a checkpoint's networks (fine-tuning on ``--dataset
    folder:<dir>``, or a next leg), and the model card records the lineage.
    """
    from ganzoo.registry import get_trainer_entry
    from ganzoo.train.launch import train as run_training
    from ganzoo.train.signals import TrainingInterrupted

    overrides = _parse_sets(sets or [])
    named = {
        "labels": labels,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "precision": precision,
        "ema_decay": ema,
        "device": device,
    }
    entry = get_trainer_entry(architecture, stage)
    fields = set(entry.cls.config_class.__dataclass_fields__)
    for key, value in named.items():
        if value is None:
            continue
        if key not in fields:
            which = f"'{architecture}' trainer" + (f" (stage '{stage}')" if stage else "")
            raise GanzooError(f"--{key.replace('_', '-')} is not an option of the {which}")
        overrides[key] = value
    if quiet:
        overrides["quiet"] = True
    try:
        _, result = run_training(
            architecture,
            out_dir=out,
            dataset=dataset,
            preset=preset,
            recipe=recipe,
            stage=stage,
            start_from=start_from,
            init_from=init_from,
            resume=resume,
            overwrite=overwrite,
            data_root=data_root,
            download=download,
            model_overrides=_parse_sets(model_sets or []),
            command="ganzoo " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            **overrides,
        )
    except TrainingInterrupted as exc:
        raise _fail(str(exc), exc.exit_code) from None
    if result.summary.get("pictures") and not quiet:
        typer.echo(f"pictures of the run: {out / 'plots'} and {out / 'samples'}", err=True)
    typer.echo(json.dumps(result.summary))  # the trainer wrote it to <out>/train_summary.json


# ------------------------------------------------------------------------------- push
@app.command()
@friendly
def push(
    folder: Annotated[
        Path, typer.Argument(help="A checkpoint folder (config.json + model.safetensors).")
    ],
    repo_id: Annotated[str, typer.Argument(help="Hub repo id, e.g. me/my-sgan.")],
    private: Annotated[bool, typer.Option("--private", help="Create the repo as private.")] = False,
    token: Annotated[
        str | None, typer.Option("--token", help="Hub token (default: the logged-in one).")
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m")] = "Upload ganzoo checkpoint",
) -> None:
    """Publish a checkpoint folder to the Hugging Face Hub."""
    from ganzoo.hub import push as push_folder

    typer.echo(push_folder(folder, repo_id, private=private, token=token, commit_message=message))


def _one_line_warnings() -> None:
    """Print ganzoo's own warnings as ``warning: <message>`` (no file, line or code)."""
    from ganzoo.errors import GanzooWarning

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001, ANN202
        if issubclass(category, GanzooWarning):
            typer.echo(f"warning: {message}", err=True)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main() -> None:
    """Entry point of the ``ganzoo`` console script."""
    _one_line_warnings()
    app()


if __name__ == "__main__":
    main()
