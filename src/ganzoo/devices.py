"""Device choice: CUDA, then Apple MPS, then CPU, or the one the user names."""

from __future__ import annotations

import torch

from ganzoo.errors import GanzooError

#: The fix an absent device's error names, for the command line and for Python.
_USE_CPU = "use --device cpu (device='cpu' in Python), or leave the device out"


def select_device(name: str | torch.device | None = None) -> torch.device:
    """Return the device to run on.

    Args:
        name: ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"`` or ``None`` for the best available
            (cuda > mps > cpu).

    Raises:
        GanzooError: for an unknown or unavailable device.

    """
    if name is None or str(name) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise GanzooError(f"unknown device '{name}'; use cpu, cuda, cuda:N, mps or auto") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GanzooError(f"CUDA is not available on this machine; {_USE_CPU}")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GanzooError(
                f"there is no {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise GanzooError(f"Apple MPS is not available on this machine; {_USE_CPU}")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise GanzooError(f"unsupported device '{name}'; use cpu, cuda, cuda:N, mps or auto")
    return device


def bf16_is_slow(device: torch.device) -> bool:
    """Whether bf16 autocast on ``device`` runs without native bf16 arithmetic.

    True for a CPU without AVX-512 BF16 or AMX (oneDNN's own test): there bf16 is
    emulated, and a step of the MNIST SGAN took about 17 s instead of 0.6 s in fp32 on
    an AVX2 AMD EPYC (its transposed convolutions dominate). False on GPUs, which
    ganzoo's bf16 option is meant for, and wherever the test is not available.
    """
    if device.type != "cpu":
        return False
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return check is not None and not bool(check())
    except (RuntimeError, AttributeError):
        return False
