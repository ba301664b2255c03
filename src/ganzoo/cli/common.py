"""What the commands of ``ganzoo`` share: the app, the error handling, options and helpers.

The Typer :data:`app` is made here; :mod:`ganzoo.cli` registers each command module's
function on it. A command wrapped in :func:`friendly` turns a library error into one
line, ``error: ...`` on stderr, and exit status 1. Nothing here imports torch, so
``ganzoo --help`` answers at once; the helpers that need it import it when called.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ganzoo._version import __version__
from ganzoo.errors import GanzooError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="ganzoo",
    help="A zoo of GANs, VAE-GANs and VQ-VAEs: list, sample, encode, train, evaluate, push.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
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
Download = Annotated[
    bool,
    typer.Option(
        "--download", help="Download a missing MNIST, Fashion-MNIST or CIFAR-10 (torchvision)."
    ),
]
Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite", help="Replace an existing file, or write into a folder that is not empty."
    ),
]


# ------------------------------------------------------------------------------- checks
def _check_positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise GanzooError(f"{name} must be at least 1, got {value}")


def _check_writable(out: Path) -> None:
    import os

    probe = out if out.suffix == "" and out.is_dir() else out.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise GanzooError(f"cannot write to {out}: {probe} is not writable; choose another --out")


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


# ------------------------------------------------------------------------------- loading
def _load(name: str, device: str | None, revision: str | None) -> Any:
    from ganzoo.devices import select_device
    from ganzoo.hub import from_pretrained

    return from_pretrained(name, revision=revision, device=select_device(device))


def _load_input(
    data: str, split: str, data_root: Path | None, model: Any, download: bool = False
) -> Any:
    from ganzoo.data import load_dataset

    if not data.strip():
        raise GanzooError(
            "the data set is empty; give a name (mnist, cifar10...), npz:<file> or a folder"
        )
    from ganzoo.data.pictures import IMAGE_EXTENSIONS

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
    return load_dataset(data, split, root=data_root, download=download)
