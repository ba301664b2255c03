"""Writing samples: PNG grids, folders of PNGs and ``.npy`` / ``.npz`` arrays.

Only PIL and NumPy are used (no torchvision), so ``ganzoo sample`` starts fast.

Every file is written to a temporary name beside its destination and renamed
into place, so an interrupted or failed write never leaves a half-written
image or array; an existing file, or a folder that is not empty, is only
written over when the caller says ``overwrite=True`` (``--overwrite``).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import math
import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import torch

from ganzoo.errors import GanzooError, exception_chain

if TYPE_CHECKING:
    from ganzoo.models.base import ZooModel

#: Suffixes saved as one grid image, with the PIL format that writes them.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
_PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}
#: Suffixes saved as one uint8 array ``(N, H, W, C)`` (``.npz``: under the key ``x``).
ARRAY_SUFFIXES = (".npy", ".npz")
#: Every accepted output, as error messages list them.
SUPPORTED_OUTPUTS = (
    "a grid image (" + ", ".join(IMAGE_SUFFIXES) + "), an array (.npy, .npz) "
    "or a folder of PNGs (a name without a suffix)"
)
#: The most images per forward pass when sampling; a larger batch only costs memory.
MAX_BATCH_SIZE = 1024
#: The most images one grid holds.
MAX_GRID_IMAGES = 4096
#: The most pixels of a grid: PIL's own decompression-bomb threshold, so it can be reopened.
MAX_GRID_PIXELS = 89_478_485
#: The largest ``.npy`` / ``.npz`` written (bytes); more belongs in a folder of PNGs.
MAX_ARRAY_BYTES = 8 * 2**30


def to_uint8(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Map images from ``value_range`` to uint8 ``[0, 255]`` (clamped, rounded)."""
    low, high = value_range
    scaled = (images.detach().float() - low) / (high - low) * 255.0
    return scaled.clamp_(0, 255).round_().to(torch.uint8)


def _to_pixels(images: torch.Tensor, value_range: tuple[float, float]) -> np.ndarray:
    """``(N, C, H, W)`` images in ``value_range`` → contiguous uint8 ``(N, H, W, C)``."""
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    pixels = to_uint8(images.cpu(), value_range).permute(0, 2, 3, 1).numpy()
    return np.ascontiguousarray(pixels)


def _grid_shape(n: int, h: int, w: int, nrow: int | None, padding: int) -> tuple[int, int, int]:
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    return nrow, rows * (h + padding) + padding, nrow * (w + padding) + padding


def _tile(pixels: np.ndarray, nrow: int | None, padding: int) -> np.ndarray:
    n, h, w, c = pixels.shape
    nrow, height, width = _grid_shape(n, h, w, nrow, padding)
    grid = np.zeros((height, width, c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = pixels[i]
    return grid


def make_grid(
    images: torch.Tensor,
    nrow: int | None = None,
    padding: int = 2,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> np.ndarray:
    """Tile ``(N, C, H, W)`` images into one ``(H', W', C)`` uint8 array.

    Args:
        images: images in ``value_range``.
        nrow: images per row (default: a square-ish grid).
        padding: black pixels between tiles.
        value_range: the images' value range.

    """
    return _tile(_to_pixels(images, value_range), nrow, padding)


def _pil_image(array: np.ndarray):  # noqa: ANN202 - PIL imported lazily
    from PIL import Image

    if array.shape[-1] == 1:
        return Image.fromarray(array[..., 0], mode="L")
    return Image.fromarray(array)


# ----------------------------------------------------------------------------- safe writing
def write_error(path: Path, exc: BaseException) -> GanzooError:
    """A one-line error for a failed write of ``path`` that names the fix."""
    # the first OSError of the chain: numpy, PIL and zipfile wrap or follow them
    os_error = next((err for err in exception_chain(exc) if isinstance(err, OSError)), exc)
    code = getattr(os_error, "errno", None)
    if code == errno.EFBIG:
        reason = "the file size limit was reached (ulimit -f)"
        fix = "raise the limit, sample fewer images (-n) or write a folder of PNGs"
    elif code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        reason = "no space left on the device"
        fix = "free some space or choose another --out"
    else:
        reason = getattr(os_error, "strerror", None) or str(os_error) or type(os_error).__name__
        fix = "choose another --out"
    return GanzooError(f"cannot write {path}: {reason}; {fix}")


def _is_write_failure(exc: BaseException) -> bool:
    return any(isinstance(err, OSError) for err in exception_chain(exc))


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, outermost first."""
    missing = []
    probe = folder
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def atomic_file(path: Path, overwrite: bool) -> Iterator[IO[bytes]]:
    """Yield a binary file that becomes ``path`` only when the block succeeds.

    On any failure (including Ctrl-C) the temporary file, and any folder made
    for it, are removed, so nothing half-written remains.
    """
    created: list[Path] = []
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        created = _make_folders(path.parent)
        with open(tmp, "wb") as handle:
            yield handle
        if not overwrite and (path.exists() or path.is_symlink()):
            raise GanzooError(f"{path} appeared while writing; choose another --out")
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        _remove_empty(created)
        if not isinstance(exc, GanzooError) and _is_write_failure(exc):
            raise write_error(path, exc) from None
        raise


def output_kind(path: str | Path) -> str:
    """What ``path`` asks for: ``"grid"``, ``"npy"``, ``"npz"`` or ``"folder"``.

    Raises:
        GanzooError: for an empty path or a suffix that is not supported.

    """
    if not str(path).strip():
        raise GanzooError(f"--out is empty; give {SUPPORTED_OUTPUTS}")
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "grid"
    if suffix in ARRAY_SUFFIXES:
        return suffix[1:]
    if suffix == "":
        return "folder"
    raise GanzooError(f"cannot write {suffix} files; --out must be {SUPPORTED_OUTPUTS}")


def check_new_file(path: Path, overwrite: bool = False) -> None:
    """Refuse to write the file ``path`` over a folder, or over a file unless ``overwrite``.

    Raises:
        GanzooError: naming the fix (``--overwrite`` or another ``--out``).

    """
    if path.is_dir():
        raise GanzooError(f"{path} is a folder; choose another --out (a file name)")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise GanzooError(
            f"{path} already exists; pass --overwrite to replace it or choose another --out"
        )


def check_output(path: str | Path, overwrite: bool = False) -> str:
    """Check that samples may be written to ``path``, before any work; return its kind.

    A file (grid or array) that exists, or a folder that is not empty, is refused
    unless ``overwrite`` (then a file is replaced, and a folder's PNGs of the same
    names are replaced while its other files stay).

    Raises:
        GanzooError: for an empty path, an unsupported suffix or an existing destination.

    """
    kind = output_kind(path)
    path = Path(path)
    if kind != "folder":
        check_new_file(path, overwrite)
    elif path.exists() and not path.is_dir():
        raise GanzooError(f"{path} is a file; choose another --out (a new or empty folder)")
    elif path.is_dir() and any(path.iterdir()) and not overwrite:
        raise GanzooError(
            f"{path} is a folder that is not empty; pass --overwrite to write into it "
            "(PNGs of the same names are replaced) or choose another --out"
        )
    return kind


def _free_bytes(folder: Path) -> int | None:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def _gigabytes(size: int) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


def check_output_size(path: Path, kind: str, n: int, image_shape: tuple[int, int, int]) -> None:
    """Refuse outputs too large to write in one piece, before sampling them.

    Args:
        path: the destination.
        kind: its kind (:func:`output_kind`).
        n: how many images.
        image_shape: one image's ``(H, W, C)``.

    Raises:
        GanzooError: naming the fix (fewer ``-n`` or a folder output).

    """
    h, w, c = image_shape
    if kind == "grid":
        _, height, width = _grid_shape(n, h, w, None, 2)
        if n > MAX_GRID_IMAGES or height * width > MAX_GRID_PIXELS:
            raise GanzooError(
                f"a grid of {n} images ({width}x{height} pixels) is too large "
                f"(at most {MAX_GRID_IMAGES} images and {MAX_GRID_PIXELS} pixels); "
                "sample fewer (-n) or write a folder of PNGs or an .npy"
            )
        return
    if kind in ("npy", "npz"):
        size = n * h * w * c
        if size > MAX_ARRAY_BYTES:
            raise GanzooError(
                f"{n} images make a {_gigabytes(size)} array (at most "
                f"{_gigabytes(MAX_ARRAY_BYTES)}); sample fewer (-n) or write a folder of PNGs"
            )
        free = _free_bytes(path.parent)
        if free is not None and size > free:
            raise GanzooError(
                f"{n} images make a {_gigabytes(size)} array but only {_gigabytes(free)} "
                f"is free under {path.parent}; free some space, sample fewer (-n) "
                "or choose another --out"
            )


def _write_npy(handle: IO[bytes], pixels: Iterator[np.ndarray], n: int, first: np.ndarray) -> int:
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
        "fortran_order": False,
        "shape": (n, *first.shape[1:]),
    }
    np.lib.format.write_array_header_2_0(handle, header)
    count = 0
    for block in itertools.chain([first], pixels):
        if block.shape[1:] != first.shape[1:]:
            raise ValueError(f"images changed shape: {first.shape[1:]} then {block.shape[1:]}")
        count += len(block)
        if count > n:
            raise ValueError(f"more images than the {n} announced")
        handle.write(memoryview(block).cast("B"))
    return count


def _write_array(
    handle: IO[bytes], kind: str, pixels: Iterator[np.ndarray], n: int, first: np.ndarray
) -> int:
    if kind == "npy":
        return _write_npy(handle, pixels, n, first)
    with (
        zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf,
        zf.open("x.npy", "w", force_zip64=True) as member,
    ):
        return _write_npy(member, pixels, n, first)  # type: ignore[arg-type]


def _write_folder(path: Path, pixels: Iterable[np.ndarray], n: int) -> int:
    width = max(6, len(str(n - 1)))
    existed = set(os.listdir(path)) if path.is_dir() else set()
    created = _make_folders(path)
    written: list[str] = []
    try:
        for block in pixels:
            for image in block:
                name = f"{len(written):0{width}d}.png"
                with atomic_file(path / name, overwrite=True) as handle:
                    _pil_image(image).save(handle, format="PNG")
                written.append(name)
    except BaseException:
        for name in written:
            if name not in existed:
                with contextlib.suppress(OSError):
                    (path / name).unlink()
        _remove_empty(created)
        raise
    return len(written)


def save_samples(
    batches: Iterable[torch.Tensor],
    path: str | Path,
    n: int,
    value_range: tuple[float, float] = (-1.0, 1.0),
    overwrite: bool = False,
) -> Path:
    """Stream ``n`` images, given in batches, to ``path``; its suffix chooses the format.

    * ``*.png`` (or ``.jpg``, ``.jpeg``, ``.webp``, ``.bmp``): one grid image;
    * ``*.npy``: a uint8 array ``(N, H, W, C)``;
    * ``*.npz``: the same array under the key ``x`` (readable as ``npz:<file>`` data);
    * a name without a suffix: a folder with one PNG per image (``000000.png``…),
      written batch by batch as they come;
    * any other suffix is an error.

    Arrays are streamed to disk batch by batch; grids are limited to
    :data:`MAX_GRID_IMAGES` images and arrays to :data:`MAX_ARRAY_BYTES`, checked
    when the first batch arrives, before anything is written.

    Args:
        batches: ``(B, C, H, W)`` tensors in ``value_range``, ``n`` images in all.
        path: the destination.
        n: the number of images the batches hold.
        value_range: the images' value range.
        overwrite: replace an existing file, or write into a folder that is not empty.

    Returns:
        ``path``.

    Raises:
        GanzooError: if the destination is refused or cannot be written.

    """
    path = Path(path)
    kind = check_output(path, overwrite)
    pixels = (_to_pixels(batch, value_range) for batch in batches)
    if kind == "folder":
        try:
            count = _write_folder(path, pixels, n)
        except Exception as exc:
            if isinstance(exc, GanzooError) or not _is_write_failure(exc):
                raise
            raise write_error(path, exc) from None
    else:
        first = next(pixels, None)
        if first is None:
            raise GanzooError("no images to save; sample at least 1 (-n)")
        check_output_size(path, kind, n, first.shape[1:])
        with atomic_file(path, overwrite) as handle:
            if kind == "grid":
                blocks = [first, *pixels]
                count = sum(len(b) for b in blocks)
                image = _pil_image(_tile(np.concatenate(blocks), None, 2))
                image.save(handle, format=_PIL_FORMATS[path.suffix.lower()])
            else:
                count = _write_array(handle, kind, pixels, n, first)
            if count != n:
                raise ValueError(f"expected {n} images, got {count}")
    if count != n:
        raise ValueError(f"expected {n} images, got {count}")
    return path


def save_grid(
    images: torch.Tensor,
    path: str | Path,
    nrow: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> Path:
    """Save images as one grid image, atomically (parent folders are created; replaces ``path``).

    Raises:
        GanzooError: if the suffix is not an image suffix or the file cannot be written.

    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _PIL_FORMATS:
        raise GanzooError(f"cannot write a grid as {path.name}; use one of {IMAGE_SUFFIXES}")
    grid = make_grid(images, nrow=nrow, value_range=value_range)
    with atomic_file(path, overwrite=True) as handle:
        _pil_image(grid).save(handle, format=_PIL_FORMATS[suffix])
    return path


def save_images(
    images: torch.Tensor,
    path: str | Path,
    value_range: tuple[float, float] = (-1.0, 1.0),
    overwrite: bool = False,
) -> Path:
    """Save images where ``path`` says: a grid (``.png``/``.jpg``…), ``.npy``, ``.npz`` or a folder.

    The formats are those of :func:`save_samples`; an existing file or a folder
    that is not empty is refused unless ``overwrite``.

    Raises:
        GanzooError: if the destination is refused or cannot be written.

    """
    return save_samples([images], path, len(images), value_range=value_range, overwrite=overwrite)


def sample_batches(
    model: ZooModel,
    n: int,
    batch_size: int,
    seed: int | None = None,
    labels: torch.Tensor | None = None,
) -> Iterator[torch.Tensor]:
    """Draw ``n`` images from ``model`` in batches of ``batch_size``, on the CPU.

    Batch ``i`` uses seed ``seed + i``, so the same seed and batch size give the
    same images on any device. ``labels`` (``n`` class indices, for a conditional
    generator) are handed out batch by batch.
    """
    for i, start in enumerate(range(0, n, batch_size)):
        chunk_seed = None if seed is None else seed + i
        size = min(batch_size, n - start)
        chunk = None if labels is None else labels[start : start + size]
        with torch.inference_mode():
            if chunk is None:
                images = model.sample(size, seed=chunk_seed)
            else:
                images = model.sample(size, seed=chunk_seed, labels=chunk)
        yield images.cpu()


def class_order_labels(model: ZooModel, n: int) -> torch.Tensor | None:
    """The classes a conditional generator is asked for when it is measured or shown.

    Every class in turn, in equal consecutive blocks: ``arange(n) * K // n`` for ``K``
    classes (of 100 images and ten classes, ten 0s, then ten 1s...: the rows of a 10×10
    grid). ``None`` for a model without a conditional generator.
    """
    if not getattr(model, "conditional", False):
        return None
    return torch.arange(n) * model.config.num_classes // n


def label_blocks(labels: Sequence[int], n: int) -> torch.Tensor:
    """``n`` labels: the given classes in order, in equal consecutive blocks.

    ``label_blocks([7], 64)`` is 64 sevens; ``label_blocks(range(10), 100)`` is ten of
    each digit, 0s first (the rows of a 10×10 grid). When ``n`` is not a multiple of the
    number of classes, the blocks differ by at most one. Returns an int64 tensor.

    Raises:
        GanzooError: for no labels, or more labels than images.

    """
    given = torch.as_tensor(list(labels), dtype=torch.long)
    if len(given) == 0:
        raise GanzooError("no labels given")
    if len(given) > n:
        raise GanzooError(f"{len(given)} labels for {n} images; draw at least -n {len(given)}")
    return given[torch.arange(n) * len(given) // n]


# ----------------------------------------------------------------------------- VQ-VAE pictures
def code_colors(num_codes: int) -> torch.Tensor:
    """A fixed colour per code, ``(num_codes, 3)`` in ``[0, 1]``.

    Hues step by the golden ratio, so codes with nearby indices get distant hues and
    the regions of a code map stand apart; the same code has the same colour in every
    picture.
    """
    index = torch.arange(num_codes, dtype=torch.float64)
    hue = (index * 0.6180339887498949) % 1.0
    saturation = 0.55 + 0.4 * ((index * 0.7548776662466927) % 1.0)
    value = 0.65 + 0.35 * ((index * 0.5698402909980532) % 1.0)
    # HSV to RGB: channel n takes v - v s max(0, min(k, 4 - k, 1)), k = (n + 6 h) mod 6
    offsets = torch.tensor([5.0, 3.0, 1.0], dtype=torch.float64)
    k = (offsets + hue.unsqueeze(1) * 6.0) % 6.0
    ramp = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    rgb = value.unsqueeze(1) - value.unsqueeze(1) * saturation.unsqueeze(1) * ramp
    return rgb.float()


def code_map_images(codes: torch.Tensor, num_codes: int, size: int) -> torch.Tensor:
    """Code grids ``(N, h, w)`` as RGB pictures ``(N, 3, size, size)`` in ``[-1, 1]``.

    Each position shows its code's colour (:func:`code_colors`), enlarged to ``size`` by
    nearest-neighbour, the report's "code indices as images".

    Raises:
        GanzooError: for a grid that is not integer ``(N, h, w)`` with codes in
            ``[0, num_codes)``.

    """
    if codes.dim() != 3 or codes.dtype.is_floating_point or codes.dtype == torch.bool:
        raise GanzooError(f"codes must be an integer grid (N, h, w), got {tuple(codes.shape)}")
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= num_codes):
        raise GanzooError(f"codes must lie in [0, {num_codes})")
    colors = code_colors(num_codes)[codes.long().cpu()]  # (N, h, w, 3)
    pictures = colors.permute(0, 3, 1, 2) * 2.0 - 1.0
    return torch.nn.functional.interpolate(pictures, size=(size, size), mode="nearest")


@torch.no_grad()
def reconstruction_panel(model: ZooModel, images: torch.Tensor) -> torch.Tensor:
    """Inputs above their reconstructions (and a VQ-VAE's code maps), as RGB pictures.

    The report's figures: for ``n`` images, the inputs, then ``model.reconstruct`` of
    them (a VAE-GAN decodes each image's mean code), and for a VQ-VAE a third row of
    its code-index maps (:func:`code_map_images`): ``(2n or 3n, 3, H, W)`` in
    ``[-1, 1]`` on the CPU, two or three rows when tiled ``n`` per row. Grayscale images
    are shown as RGB.

    Args:
        model: a model that can ``reconstruct`` (a VQ-VAE, a VAE-GAN).
        images: ``(n, C, H, W)`` in ``[-1, 1]``.

    """
    num_codes = getattr(model.config, "num_codes", None)
    was_training = model.training
    model.eval()
    try:
        images = images.to(model.device)
        codes = model.encode(images) if num_codes is not None else None
        rebuilt = model.decode(codes) if codes is not None else model.reconstruct(images)
    finally:
        model.train(was_training)
    rows = [images.float().cpu(), rebuilt.float().cpu()]
    rows = [x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x for x in rows]
    if codes is not None:
        rows.append(code_map_images(codes, int(num_codes), images.shape[-1]))
    return torch.cat(rows)


def save_reconstructions(
    model: ZooModel, images: torch.Tensor, path: str | Path, overwrite: bool = False
) -> Path:
    """Write inputs above their reconstructions (above a VQ-VAE's code maps) as one image.

    See :func:`reconstruction_panel`; each row holds the ``n`` images given.

    Raises:
        GanzooError: if ``path`` is not an image file name, exists (without
            ``overwrite``) or cannot be written.

    """
    path = Path(path)
    check_new_file(path, overwrite)
    return save_grid(reconstruction_panel(model, images), path, nrow=len(images))
