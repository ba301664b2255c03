"""The weights file: ``model.safetensors`` read and written without trusting it.

A file is never loaded before its header has been compared with the tensors the
model expects (names, shapes, floating-point dtypes), and weights holding NaN or
infinity are refused. ``safetensors`` and ``torch`` are imported when a function is
called, not with this module.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ganzoo.errors import GanzooError
from ganzoo.io.atomic import atomic_path

if TYPE_CHECKING:
    import torch
    from torch import nn

_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
#: Bytes per element of each safetensors dtype.
_DTYPE_BYTES = {
    **{name: 8 for name in ("F64", "I64", "U64")},
    **{name: 4 for name in ("F32", "I32", "U32")},
    **{name: 2 for name in ("F16", "BF16", "I16", "U16")},
    **{name: 1 for name in ("I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2")},
}
#: Largest safetensors header read from a Hub repo before its weights are downloaded
#: (a ganzoo model's is under 16 KB; the length comes first, in 8 bytes, and is checked).
MAX_HEADER_BYTES = 1 << 20


def save_weights(
    state_dict: Mapping[str, torch.Tensor], path: str | Path, dtype: torch.dtype | None = None
) -> None:
    """Write tensors to a safetensors file atomically (:func:`ganzoo.io.atomic.atomic_path`).

    Args:
        state_dict: the tensors.
        path: destination ``.safetensors`` file.
        dtype: cast floating-point tensors to this dtype (e.g. ``torch.float16`` to ship).

    """
    from safetensors.torch import save_file

    tensors = {}
    for key, value in state_dict.items():
        value = value.detach()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.to("cpu").contiguous().clone()
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # safetensors writes 0600; give the usual file mode


def read_weights_header(path: str | Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Read a safetensors file's header: ``{name: (shape, dtype)}``, without loading any data.

    Raises:
        GanzooError: if the file is not a readable safetensors file.

    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return {
                key: (tuple(handle.get_slice(key).get_shape()), handle.get_slice(key).get_dtype())
                for key in handle.keys()  # noqa: SIM118 - safe_open has no __iter__
            }
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GanzooError(f"cannot read weights {path}: {first}; re-save the checkpoint") from None


def header_length(prefix: bytes, source: str) -> int:
    """The header length a safetensors file's first 8 bytes announce (little-endian).

    Raises:
        GanzooError: for fewer than 8 bytes, an empty header or one over
            :data:`MAX_HEADER_BYTES`.

    """
    if len(prefix) < 8:
        raise GanzooError(f"weights of '{source}' are not a safetensors file (under 8 bytes)")
    length = int.from_bytes(prefix[:8], "little")
    if not 2 <= length <= MAX_HEADER_BYTES:
        raise GanzooError(
            f"weights of '{source}' announce a safetensors header of {length} bytes "
            f"(a ganzoo header is a few KB, at most {MAX_HEADER_BYTES}): not a ganzoo checkpoint"
        )
    return length


def parse_weights_header(
    raw: bytes, source: str
) -> tuple[dict[str, tuple[tuple[int, ...], str]], int]:
    """Read a safetensors header from its bytes (the JSON after the 8-byte length).

    Each tensor's dtype, shape and byte span are checked against each other, so the
    header says exactly how large the file is: ``8 + len(raw) + data bytes``.

    Returns:
        ``({name: (shape, dtype)}, data bytes)``.

    Raises:
        GanzooError: naming the first entry that is not a tensor's description.

    """

    def bad(reason: str) -> GanzooError:
        return GanzooError(
            f"weights of '{source}' have a damaged safetensors header ({reason}); "
            "not a ganzoo checkpoint"
        )

    try:
        entries = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("not JSON") from None
    if not isinstance(entries, dict):
        raise bad("not an object")
    header: dict[str, tuple[tuple[int, ...], str]] = {}
    end = 0
    for name, entry in entries.items():
        if name == "__metadata__":
            continue
        shown = name if len(name) <= 60 else name[:57] + "..."
        if not isinstance(entry, dict):
            raise bad(f"entry '{shown}' is not an object")
        dtype, shape, span = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in _DTYPE_BYTES:
            raise bad(f"tensor '{shown}' has dtype {str(dtype)[:20]!r}")
        ints = (list, tuple)
        if not isinstance(shape, ints) or not all(_count(x) for x in shape):
            raise bad(f"tensor '{shown}' has no list of sizes as its shape")
        if not isinstance(span, ints) or len(span) != 2 or not all(_count(x) for x in span):
            raise bad(f"tensor '{shown}' has no [begin, end] byte offsets")
        if span[1] - span[0] != math.prod(shape) * _DTYPE_BYTES[dtype]:
            raise bad(f"tensor '{shown}' spans {span[1] - span[0]} bytes, not its shape's")
        header[name] = (tuple(shape), dtype)
        end = max(end, span[1])
    return header, end


def _count(value: object) -> bool:
    """Whether ``value`` is a non-negative integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shown(keys: list[str]) -> str:
    """The first four ``keys``, joined, and how many more there are."""
    return ", ".join(keys[:4]) + (f" (+{len(keys) - 4} more)" if len(keys) > 4 else "")


def check_weights_fit(
    expected: Mapping[str, torch.Tensor],
    header: Mapping[str, tuple[tuple[int, ...], str]],
    source: str,
) -> None:
    """Compare a file's header with the tensors a model expects (which may be on ``meta``).

    Raises:
        GanzooError: naming the missing, unexpected, misshapen and non-float tensors.

    """
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    common = set(expected) & set(header)
    misshapen = sorted(k for k in common if tuple(expected[k].shape) != header[k][0])
    not_float = sorted(
        k for k in common if expected[k].is_floating_point() and header[k][1] not in _FLOAT_DTYPES
    )
    problems = []
    for label, keys in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("misshapen", misshapen),
        ("non-float", not_float),
    ):
        if keys:
            problems.append(f"{len(keys)} {label} tensor(s): {_shown(keys)}")
    if problems:
        raise GanzooError(
            f"weights of '{source}' do not fit its architecture: {'; '.join(problems)} "
            "(was the checkpoint saved by another version or edited?)"
        )


def check_finite(tensors: Mapping[str, torch.Tensor], source: str) -> None:
    """Refuse weights holding NaN or infinity (they give black images and chance accuracy).

    Raises:
        GanzooError: naming the tensors that are not finite.

    """
    import torch

    bad = sorted(
        k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())
    )
    if bad:
        raise GanzooError(
            f"weights of '{source}' hold NaN or infinite values in {len(bad)} tensor(s): "
            f"{_shown(bad)} (the training diverged or the file is damaged)"
        )


def load_weights_strict(model: nn.Module, path: str | Path, source: str = "") -> None:
    """Load a safetensors file into ``model``; a missing, extra or misshapen tensor is an error.

    The header is compared with the model before any data is read; NaN or infinite
    weights are refused. Floating-point tensors are cast to the dtype of the model's own
    (so fp16 files load into fp32 models).

    Raises:
        GanzooError: naming the tensors that do not match or are not finite.

    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    source = source or str(path)
    check_weights_fit(model.state_dict(), read_weights_header(path), source)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise GanzooError(f"cannot read weights {path}: {exc}") from None
    check_finite(tensors, source)
    model.load_state_dict(tensors, strict=True)
